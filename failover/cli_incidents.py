"""``failover incident …``, ``failover component …`` and ``failover maintenance schedule``:
the incident commands, talking to a running daemon's API like ``post`` does."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from failover.cli_output import EXIT_INPUT, EXIT_OK, short, table, when
from failover.durations import parse_duration

Call = Callable[..., dict[str, Any]]  # (args, method, path, body=...) -> the JSON answer
Remote = Callable[..., argparse.ArgumentParser]
STATUSES = "operational, degraded_performance, partial_outage, major_outage, under_maintenance"


class BadArgument(ValueError):
    """Something typed on the command line cannot be sent (the message says what)."""


def add_incident_commands(sub: Any, remote: Remote, call: Call) -> None:
    """Register the three command groups; ``remote`` adds --url/--token/--json."""
    _incident(sub, remote, call)
    _component(sub, remote, call)
    _maintenance(sub, remote, call)


def _group(sub: Any, name: str, help_: str) -> Any:
    p = sub.add_parser(name, help=help_, description=help_ + " (talks to a running daemon).")
    p.set_defaults(func=lambda _a: (p.print_help(sys.stderr), EXIT_INPUT)[1])
    return p.add_subparsers(metavar="ACTION", title="actions")


def _run(call: Call, handler: Callable[[Call, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:  # fmt: skip
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(call, args)
        except BadArgument as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INPUT

    return run


def _incident(sub: Any, remote: Remote, call: Call) -> None:
    acts = _group(sub, "incident", "open, update, resolve and list incidents")
    sp = remote("open", "open an incident: its first update is posted at once", parent=acts)
    sp.add_argument("title", help="what is broken, in a few words")
    sp.add_argument("--body", required=True, help="the first update's text")
    sp.add_argument(
        "--impact", default="minor", choices=["none", "minor", "major", "critical"],
        help="how bad it is for customers (default minor)",
    )  # fmt: skip
    sp.add_argument(
        "--state", default="investigating", choices=["investigating", "identified", "monitoring"],
        help="where the work stands (default investigating)",
    )  # fmt: skip
    _component_option(sp)
    sp.add_argument("--route", help="route of its updates (default: [incidents] route)")
    sp.set_defaults(func=_run(call, _open))
    sp = remote("update", "post an update, threaded after the first post", parent=acts)
    sp.add_argument("id", type=int, help="the incident's number")
    sp.add_argument("state", help="investigating, identified, monitoring or resolved "
                    "(maintenance: scheduled, in_progress, verifying, completed)")  # fmt: skip
    sp.add_argument("body", help="the update's text")
    _component_option(sp)
    sp.set_defaults(func=_run(call, _update))
    sp = remote("resolve", "post the last update: resolved", parent=acts)
    sp.add_argument("id", type=int, help="the incident's number")
    sp.add_argument("body", nargs="?", default="This incident has been resolved.", help="the text")
    sp.set_defaults(func=_run(call, _resolve))
    sp = remote("publish", "confirm a draft incident (opened by a probe): post it", parent=acts)
    sp.add_argument("id", type=int, help="the incident's number")
    sp.set_defaults(func=_run(call, _publish))
    sp = remote("list", "incidents and maintenance, newest first", parent=acts)
    sp.add_argument("--kind", choices=["incident", "maintenance"], help="only this kind")
    sp.add_argument("--active", action="store_true", help="only those not resolved/completed")
    sp.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    sp.set_defaults(func=_run(call, _list))
    sp = remote("show", "one incident with its updates", parent=acts)
    sp.add_argument("id", type=int, help="the incident's number")
    sp.set_defaults(func=_run(call, _show))


def _component(sub: Any, remote: Remote, call: Call) -> None:
    acts = _group(sub, "component", "the company's components and their status")
    sp = remote("list", "components and their status", parent=acts)
    sp.set_defaults(func=_run(call, _components))
    sp = remote("set", "set a component's status by hand", parent=acts)
    sp.add_argument("id", help="the component's id, e.g. api")
    sp.add_argument("status", help=STATUSES)
    sp.set_defaults(func=_run(call, _set_component))


def _maintenance(sub: Any, remote: Remote, call: Call) -> None:
    acts = _group(sub, "maintenance", "scheduled maintenance")
    sp = remote(
        "schedule", "announce maintenance; timers post the reminder, start, end", parent=acts
    )
    sp.add_argument("title", help="what is done, in a few words")
    sp.add_argument("--body", required=True, help="the announcement's text")
    sp.add_argument("--start", required=True, help='ISO time with zone, or from now ("+2h")')
    sp.add_argument("--end", required=True, help='ISO time with zone, or from now ("+3h")')
    sp.add_argument("--component", action="append", default=[], help="an affected component id")
    sp.add_argument("--remind", help='post a reminder this long before the start ("1h")')
    sp.add_argument("--auto-start", action="store_true", help="post in_progress at the start")
    sp.add_argument("--auto-complete", action="store_true", help="post completed at the end")
    sp.add_argument("--route", help="route of its updates (default: [incidents] route)")
    sp.set_defaults(func=_run(call, _schedule))


def _component_option(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--component", action="append", default=[], metavar="ID=STATUS",
        help=f"an affected component and the status it gets ({STATUSES}); repeatable",
    )  # fmt: skip


def _components_arg(items: list[str]) -> dict[str, str]:
    found = {}
    for item in items:
        cid, sep, status = item.partition("=")
        if not sep or not cid or not status:
            raise BadArgument(f"--component {item!r}: write ID=STATUS, e.g. api=major_outage")
        found[cid.strip()] = status.strip()
    return found


def _time(text: str, flag: str) -> str:
    if text.startswith("+"):
        try:
            return (datetime.now(UTC) + timedelta(seconds=parse_duration(text[1:]))).isoformat()
        except ValueError as exc:
            raise BadArgument(f"{flag}: {exc}") from None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadArgument(f"{flag}: {text!r} is not a time like 2026-12-01T09:00+01:00") from None
    if value.tzinfo is None:
        raise BadArgument(f"{flag}: add a zone (Z or +01:00) to {text!r}")
    return value.isoformat()


def _open(call: Call, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"title": args.title, "body": args.body, "impact": args.impact,
                            "state": args.state, "components": _components_arg(args.component)}  # fmt: skip
    if args.route:
        body["route"] = args.route
    return _print_incident(args, call(args, "POST", "/api/v1/incidents", body=body))


def _update(call: Call, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"state": args.state, "body": args.body}
    if args.component:
        body["components"] = _components_arg(args.component)
    return _print_incident(args, call(args, "POST", f"/api/v1/incidents/{args.id}/updates", body=body))  # fmt: skip


def _resolve(call: Call, args: argparse.Namespace) -> int:
    body = {"state": "resolved", "body": args.body}
    return _print_incident(args, call(args, "POST", f"/api/v1/incidents/{args.id}/updates", body=body))  # fmt: skip


def _publish(call: Call, args: argparse.Namespace) -> int:
    return _print_incident(args, call(args, "POST", f"/api/v1/incidents/{args.id}/publish"))


def _show(call: Call, args: argparse.Namespace) -> int:
    return _print_incident(args, call(args, "GET", f"/api/v1/incidents/{args.id}"))


def _list(call: Call, args: argparse.Namespace) -> int:
    params = {"limit": str(args.limit)}
    if args.kind:
        params["kind"] = args.kind
    if args.active:
        params["active"] = "true"
    data = call(args, "GET", "/api/v1/incidents", params=params)
    if args.json:
        print(json.dumps(data))
        return EXIT_OK
    rows = [[i["id"], i["kind"], i["state"] + (" (draft)" if i["draft"] else ""), i["impact"],
             short(i["title"], 40), when(i["updated_at"])] for i in data["items"]]  # fmt: skip
    print(table(["id", "kind", "state", "impact", "title", "updated"], rows))
    return EXIT_OK


def _print_incident(args: argparse.Namespace, i: dict[str, Any]) -> int:
    if args.json:
        print(json.dumps(i))
        return EXIT_OK
    draft = " — draft, not posted: failover incident publish " + str(i["id"]) if i["draft"] else ""
    print(f"{i['kind']} {i['id']}: {i['title']} [{i['state']}, impact {i['impact']}]{draft}")
    for cid, status in sorted(i["components"].items()):
        print(f"  component {cid}: {status}")
    rows = [[when(u["created_at"]), u["state"], u["message_id"] or "", short(u["body"], 60)]
            for u in i["updates"]]  # fmt: skip
    print(table(["at", "state", "message", "update"], rows))
    return EXIT_OK


def _components(call: Call, args: argparse.Namespace) -> int:
    data = call(args, "GET", "/api/v1/components")
    if args.json:
        print(json.dumps(data))
        return EXIT_OK
    rows = [[c["id"], c["name"], c["group"] or "", c["status"], c["probe"] or ""] for c in data["items"]]  # fmt: skip
    print(table(["id", "name", "group", "status", "probe"], rows))
    return EXIT_OK


def _set_component(call: Call, args: argparse.Namespace) -> int:
    c = call(args, "PATCH", f"/api/v1/components/{args.id}", body={"status": args.status})
    print(json.dumps(c) if args.json else f"component {c['id']}: {c['status']}")
    return EXIT_OK


def _schedule(call: Call, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "title": args.title, "body": args.body, "components": args.component,
        "scheduled_for": _time(args.start, "--start"), "scheduled_until": _time(args.end, "--end"),
        "auto_start": args.auto_start, "auto_complete": args.auto_complete,
    }  # fmt: skip
    if args.remind:
        body["remind_before"] = args.remind
    if args.route:
        body["route"] = args.route
    return _print_incident(args, call(args, "POST", "/api/v1/maintenances", body=body))
