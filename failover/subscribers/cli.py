"""`failover subscribers list|export|import|delete|add-webhook`: the admin API from a shell."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_OK = 0
Remote = Callable[[str, str], argparse.ArgumentParser]


def add_parser(sub: Any, remote: Remote) -> None:
    """Register the command under the CLI's ``sub`` parsers, with the CLI's remote options."""
    top = remote("subscribers", "list, export, import or erase status page subscribers")
    top.epilog = "--url, --token and --json go before the action: failover subscribers --json list"
    actions = top.add_subparsers(metavar="ACTION", title="actions")
    top.set_defaults(func=lambda _a: _usage(top))
    sp = _action(actions, "list", "subscribers with their state, and the counts")
    sp.add_argument("--kind", choices=["email", "webhook"], help="only this kind")
    sp.add_argument(
        "--state", choices=["pending", "confirmed", "suppressed", "unsubscribed"],
        help="only this state",
    )  # fmt: skip
    sp.set_defaults(func=cmd_list)
    sp = _action(actions, "export", "every subscriber as CSV on stdout")
    sp.set_defaults(func=cmd_export)
    sp = _action(actions, "import", "add subscribers from a CSV file (- for stdin)")
    sp.add_argument("file", help="CSV with a header line: address[,state,components,...]")
    sp.set_defaults(func=cmd_import)
    sp = _action(actions, "delete", "erase one subscriber (the row is deleted)")
    sp.add_argument("id", type=int, help="the subscriber's id (see `subscribers list`)")
    sp.set_defaults(func=cmd_delete)
    sp = _action(actions, "add-webhook", "add a webhook subscriber; prints its secret once")
    sp.add_argument(
        "hook_url", metavar="URL", help="the hook's http(s) URL; updates are POSTed there, signed"
    )
    sp.add_argument("--contact", help="email told when the hook keeps failing")
    sp.add_argument("--component", action="append", default=[], help="repeat; none: all")
    sp.set_defaults(func=cmd_add_webhook)


def _action(actions: Any, name: str, help_: str) -> argparse.ArgumentParser:
    sp: argparse.ArgumentParser = actions.add_parser(name, help=help_, description=help_ + ".")
    return sp


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _call(args: argparse.Namespace, method: str, path: str, **kw: Any) -> dict[str, Any]:
    from failover.cli import _client  # the CLI's own token rules and error words

    return asyncio.run(_client(args).request(method, path, **kw))


def _text(args: argparse.Namespace, method: str, path: str, body: bytes | None = None) -> str:
    from failover.cli import _client

    return asyncio.run(_client(args).text(method, path, body, "text/csv"))


def cmd_list(args: argparse.Namespace) -> int:
    params = {k: v for k in ("kind", "state") if (v := getattr(args, k))}
    data = _call(args, "GET", "/api/v1/subscribers", params={**params, "limit": "1000"})
    if args.json:
        print(json.dumps(data))
        return EXIT_OK
    for s in data["items"]:
        scope = ",".join(s["components"]) or "all"
        waiting = s.get("retries_pending") or 0
        later = f"  ({waiting} to send again)" if waiting else ""
        print(f"{s['id']:>6}  {s['kind']:<7}  {s['state']:<12}  {s['address']}  [{scope}]{later}")
    for kind, states in data["counts"].items():
        total = sum(states.values())
        detail = ", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "none"
        print(f"{kind}: {total} ({detail})")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    sys.stdout.write(_text(args, "GET", "/api/v1/subscribers.csv"))
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    counts = json.loads(_text(args, "POST", "/api/v1/subscribers/import", raw))
    if args.json:
        print(json.dumps(counts))
    else:
        print(f"imported {counts['imported']} ({counts['confirmed']} confirmed, "
              f"{counts['invited']} sent a confirmation mail); {counts['skipped']} already known")  # fmt: skip
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    _call(args, "DELETE", f"/api/v1/subscribers/{args.id}")
    print(f"subscriber {args.id} erased")
    return EXIT_OK


def cmd_add_webhook(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"url": args.hook_url, "components": args.component}
    if args.contact:
        body["contact_email"] = args.contact
    data = _call(args, "POST", "/api/v1/subscribers", body=body)
    if args.json:
        print(json.dumps(data))
    else:
        print(f"webhook subscriber {data['id']} added; its signing secret (shown once):")
        print(data["secret"])
    return EXIT_OK
