"""The ``failover`` command.

``run``, ``check-config``, ``token`` and ``migrate`` work on the local config and store;
the message and status commands talk to a running daemon's API (``--url``/``FAILOVER_URL``
and ``--token``/``FAILOVER_TOKEN``), so they work from any host. Tables for people,
``--json`` for scripts. Exit codes: 0 ok, 1 failure, 2 invalid input, 3 not found,
4 not allowed (401/403), 5 conflict, 69 daemon unreachable, 78 configuration error
(``check-config`` exits 0 for a valid config in which some channel lacks its secrets, and
warns).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import mimetypes
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from failover import __version__, startup, timefmt
from failover.cli_incidents import Remote, add_incident_commands
from failover.cli_local import cmd_check_config, cmd_migrate, cmd_run, cmd_token
from failover.cli_output import (
    EXIT_CONFLICT,
    EXIT_DENIED,
    EXIT_FAIL,
    EXIT_INPUT,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNREACHABLE,
    SHOWN,
    short,
    table,
    when,
)
from failover.client import ApiError, Client
from failover.durations import parse_duration
from failover.subscribers.cli import add_parser as add_subscribers_parser
from failover.timeline import sentence, who

DEFAULT_CONFIG = os.environ.get("FAILOVER_CONFIG", "/etc/failover/config.toml")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_INPUT
    try:
        SHOWN.zone = _zone_arg(getattr(args, "tz", None) or os.environ.get("FAILOVER_TZ"))
        code: int = args.func(args)
        return code
    except ApiError as exc:
        return _api_error(exc, args)
    except _InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from complaining
        # about the flush at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAIL


class _InputError(Exception):
    """Something the user typed (or did not give) is wrong; the message says what to do."""

    def __init__(self, message: str, code: int = EXIT_INPUT) -> None:
        super().__init__(message)
        self.code = code


def _zone_arg(name: str | None) -> tzinfo:
    try:
        return timefmt.zone(name)
    except ValueError as exc:
        raise _InputError(f"--tz: {exc}") from None


EPILOG = f"""\
where each command works:
  on the daemon's host, with its config file (-c FILE, default {DEFAULT_CONFIG},
  or $FAILOVER_CONFIG): run, check-config, migrate, token
  from anywhere, talking to a running daemon (--url or $FAILOVER_URL, default
  http://127.0.0.1:8080, and --token or $FAILOVER_TOKEN): post, status, messages,
  show, cancel, retract, force, drill, events, incident, component,
  maintenance

examples:
  failover check-config -c failover.toml
  failover run -c failover.toml
  failover token create --role publisher --name laptop -c failover.toml
  export FAILOVER_URL=http://127.0.0.1:8080 FAILOVER_TOKEN=<the token>
  failover post "Checkout is slow right now; we are on it."
  failover post "Winter sale!" --at 2026-12-01T09:00 --tz Europe/Berlin --expires 6h
  failover show 12 --watch
  failover force x down

exit codes: 0 ok, 1 failed, 2 invalid input, 3 not found, 4 not allowed (no or weak
token), 5 conflict, 69 daemon unreachable, 78 config has errors.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="failover",
        description="Keeps posts reaching people when the primary platform is down.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"failover {__version__}")
    sub = p.add_subparsers(metavar="COMMAND", title="commands")
    remote = partial(_remote, sub)
    _local_commands(sub)
    _token_parser(sub)
    _post_command(remote)
    _message_commands(remote)
    _channel_commands(remote)
    add_subscribers_parser(sub, remote)
    add_incident_commands(sub, remote, _call)
    return p


def _config_option(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "-c", "--config", default=DEFAULT_CONFIG,
        help=f"the daemon's config file (default {DEFAULT_CONFIG}, or $FAILOVER_CONFIG)",
    )  # fmt: skip


def _local(sub: Any, name: str, help_: str) -> argparse.ArgumentParser:
    """A command that works on the daemon's host, with its config file."""
    sp: argparse.ArgumentParser = sub.add_parser(
        name, help=help_, description=help_ + " (reads the config file)."
    )
    _config_option(sp)
    return sp


def _remote(sub: Any, name: str, help_: str, parent: Any = None) -> argparse.ArgumentParser:
    """A command that talks to a running daemon: --url, --token, --tz and --json."""
    sp: argparse.ArgumentParser = (parent or sub).add_parser(
        name, help=help_, description=help_ + " (talks to a running daemon)."
    )
    sp.add_argument(
        "--url", default=os.environ.get("FAILOVER_URL", "http://127.0.0.1:8080"),
        help="the daemon's address (default $FAILOVER_URL, else http://127.0.0.1:8080)",
    )  # fmt: skip
    sp.add_argument(
        "--token", default=os.environ.get("FAILOVER_TOKEN"),
        help="API token (default $FAILOVER_TOKEN); make one with `failover token create`",
    )  # fmt: skip
    sp.add_argument(
        "--tz", default=os.environ.get("FAILOVER_TZ"),
        help="time zone for times shown and for times typed without one, e.g. "
        "Europe/Berlin (default $FAILOVER_TZ, else this computer's zone)",
    )  # fmt: skip
    sp.add_argument("--json", action="store_true", help="print JSON for scripts")
    return sp


def _local_commands(sub: Any) -> None:
    """run, check-config and migrate."""
    sp = _local(sub, "run", "run the daemon")
    sp.set_defaults(func=cmd_run)

    sp = _local(sub, "check-config", "check the config: every error at once, then warnings")
    sp.add_argument(
        "--json", action="store_true",
        help='print {"valid", "errors": [{"key", "line", "message"}], "warnings", "config"}',
    )  # fmt: skip
    sp.set_defaults(func=cmd_check_config)

    sp = _local(sub, "migrate", "bring the store's schema up to date")
    sp.set_defaults(func=cmd_migrate)


def _post_command(remote: Remote) -> None:
    sp = remote("post", "post a message, now or at a time")
    sp.add_argument("text", help="the text; - reads it from standard input")
    sp.add_argument("--route", help="which route (default: the config's default_route)")
    sp.add_argument(
        "--at", help='when to send: "2026-12-01T09:00" (in --tz), with a zone '
        '("2026-12-01T09:00+01:00"), or from now ("+10m"); default now',
    )  # fmt: skip
    sp.add_argument(
        "--allow-past", action="store_true",
        help="accept an --at more than a minute in the past (it is sent at once)",
    )  # fmt: skip
    sp.add_argument(
        "--expires", help='stop trying after: a time like --at, or a duration after --at/now ("6h")'
    )
    sp.add_argument("--title", help="a title (email subject, status page heading)")
    sp.add_argument("--link", help="a link (https://...) added where the channel allows")
    sp.add_argument("--cw", dest="content_warning", help="content warning (Mastodon)")
    sp.add_argument("--lang", dest="language", help='language of the text, e.g. "en", "de"')
    sp.add_argument("--image", action="append", default=[], help="an image file (repeatable)")
    sp.add_argument(
        "--alt", action="append", default=[], help="alt text for each --image, in order"
    )
    sp.add_argument("--thread", type=int, help="id of the message this one continues")
    sp.add_argument(
        "--override", action="append", default=[], metavar="CHANNEL=TEXT",
        help="other text for one channel (repeatable)",
    )  # fmt: skip
    sp.add_argument(
        "--idempotency-key",
        help="any unique string: posting again with it returns the first message, no duplicate",
    )
    sp.set_defaults(func=cmd_post)


def _message_commands(remote: Remote) -> None:
    """status, messages, show, cancel and retract."""
    sp = remote("status", "channels, their health, and the queue")
    sp.set_defaults(func=cmd_status)

    sp = remote("messages", "recent messages, newest first")
    sp.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    sp.add_argument("--state", help="only messages in this state, e.g. scheduled, failed")
    sp.set_defaults(func=cmd_messages)

    sp = remote("show", "one message with its deliveries")
    sp.add_argument("id", type=int, help="the message's number")
    sp.add_argument(
        "--watch", action="store_true", help="follow a sending message until it settles"
    )
    sp.set_defaults(func=cmd_show)

    sp = remote("cancel", "stop what has not been sent yet of a message")
    sp.add_argument("id", type=int, help="the message's number")
    sp.set_defaults(func=cmd_cancel)

    sp = remote("retract", "take a published message down from every channel that can delete it")
    sp.add_argument("id", type=int, help="the message's number")
    sp.set_defaults(func=cmd_retract)


def _channel_commands(remote: Remote) -> None:
    """force, drill and events."""
    sp = remote("force", "force a channel down or up, or back to automatic health")
    sp.add_argument("channel", help="the channel's name in the config, e.g. x")
    sp.add_argument(
        "state", choices=["down", "up", "auto"], help="down, up, or auto (health decides)"
    )
    sp.set_defaults(func=cmd_force)

    sp = remote(
        "drill", "force a channel down for a while and report what was rerouted where, how fast"
    )
    sp.add_argument(
        "--channel", required=True, help="the channel to take down (usually the primary)"
    )
    sp.add_argument(
        "--for", dest="duration", default="60s", help='how long it stays down (default "60s")'
    )
    sp.add_argument(
        "--route", help="route of the test message (default: the daemon's default route)"
    )
    sp.add_argument(
        "--text", default="[drill] failover test — please ignore", help="the test message"
    )
    sp.add_argument(
        "--public",
        action="store_true",
        help="drill the real route, public channels included (default: operators only)",
    )
    sp.set_defaults(func=cmd_drill)

    sp = remote("events", "what happened, newest first")
    sp.add_argument("--channel", help="only events of this channel")
    sp.add_argument("--limit", type=int, default=30, help="how many (default 30)")
    sp.set_defaults(func=cmd_events)


def _token_parser(sub: Any) -> None:
    tok = sub.add_parser(
        "token", help="create, list or revoke API tokens (reads the config file)",
        description="API tokens for the CLI, scripts and the web UI, kept in the daemon's "
        "store (run on the daemon's host).",
    )  # fmt: skip
    toks = tok.add_subparsers(metavar="ACTION", title="actions")
    tok.set_defaults(func=lambda _args: _usage(tok))
    helps = {
        "create": "make a token; it is printed once (stdout), keep it secret",
        "list": "all tokens: name, role, last use, revoked or not",
        "revoke": "stop a token from working, at once",
    }
    for action, help_ in helps.items():
        sp = toks.add_parser(action, help=help_, description=help_ + ".")
        _config_option(sp)
        sp.add_argument("--json", action="store_true", help="print JSON for scripts")
        if action == "create":
            sp.add_argument(
                "--role", required=True, choices=["viewer", "publisher", "operator", "admin"],
                help="viewer reads; publisher also posts; operator also forces channels; "
                "admin also manages tokens",
            )  # fmt: skip
            sp.add_argument(
                "--name", required=True, help="who or what uses it, e.g. marketing-laptop"
            )
        if action == "revoke":
            sp.add_argument("id", type=int, help="the token's id (see `token list`)")
        sp.set_defaults(func=cmd_token, action=action)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_INPUT


# --- remote commands ---------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> Client:
    if not args.token:
        raise _InputError(
            "no API token: set FAILOVER_TOKEN or pass --token (create one on the daemon's "
            f"host with: failover token create --role publisher --name {_user()} -c "
            f"{DEFAULT_CONFIG})",
            EXIT_DENIED,
        )
    return Client(args.url, args.token)


def _user() -> str:
    return os.environ.get("USER") or "me"


def _call(args: argparse.Namespace, method: str, path: str, **kw: Any) -> dict[str, Any]:
    return asyncio.run(_client(args).request(method, path, **kw))


def cmd_post(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    now = datetime.now(UTC)
    body: dict[str, Any] = {"text": text}
    for key in ("route", "title", "link", "content_warning", "language", "thread"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    at = _parse_time(args.at, args.tz, now, "--at") if args.at else None
    if at:
        body["scheduled_at"] = at.isoformat()
    if args.allow_past:
        body["allow_past"] = True
    if args.expires:
        body["expires_at"] = _parse_time(
            args.expires, args.tz, at or now, "--expires", relative=True
        ).isoformat()
    if args.override:
        body["overrides"] = dict(_split_override(o) for o in args.override)
    if len(args.alt) > len(args.image):
        raise _InputError("more --alt than --image")
    images = []
    for i, path in enumerate(args.image):
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise _InputError(f"--image {path}: {exc.strerror}") from None
        ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        images.append(
            {
                "data": base64.b64encode(data).decode(),
                "content_type": ctype,
                "alt": args.alt[i] if i < len(args.alt) else "",
            }
        )
    if images:
        body["images"] = images
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
    msg = _call(args, "POST", "/api/v1/messages", body=body, headers=headers)
    if args.json:
        print(json.dumps(msg))
    else:
        when_ = f", for {when(msg['scheduled_at'], hint=True)}" if msg.get("scheduled_at") else ""
        channels = [d["channel"] for d in msg["deliveries"] if d["state"] != "skipped"]
        print(f"message {msg['id']} accepted ({msg['state']}{when_}) -> {', '.join(channels)}")
        for d in msg["deliveries"]:
            if d["state"] == "skipped":
                print(f"  skipped {d['channel']}: {short(d['last_error'] or '', 100)}")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    data = _call(args, "GET", "/api/v1/status")
    if args.json:
        print(json.dumps(data))
        return EXIT_OK
    rows = [
        [
            c["name"],
            c.get("display_name") or c["type"],
            ("not checked yet" if c["health"] == "unknown" else c["health"])
            if c["available"]
            else "not connected",
            c["forced"] if c["forced"] != "auto" else "",
            when(c["since"]),
            startup.short_reason(c["problem"] or c["reason"], 60),
        ]
        for c in data["channels"]
    ]
    print(table(["channel", "shown as", "health", "forced", "since", "why"], rows))
    q = data["queue"]
    age = f", oldest due {q['oldest_due_age_s']:.0f}s ago" if q["oldest_due_age_s"] else ""
    print(f"\nqueue: {q['pending']} pending ({q['due']} due), {q['sending']} sending{age}")
    nodes = data.get("cluster") or []
    if nodes:
        print()
        rows = [
            [n["node"], "leader" if n["leads"] else "follower", when(n["since"]),
             when(n["seen"]), n.get("api", "")]
            for n in nodes
        ]  # fmt: skip
        print(table(["daemon", "role", "up since", "last seen", "api"], rows))
    return EXIT_OK


def cmd_messages(args: argparse.Namespace) -> int:
    params = {"limit": str(args.limit)}
    if args.state:
        params["state"] = args.state
    data = _call(args, "GET", "/api/v1/messages", params=params)
    if args.json:
        print(json.dumps(data))
        return EXIT_OK
    rows = [
        [
            m["id"],
            m["state"],
            when(m["scheduled_at"], hint=True) if m["scheduled_at"] else when(m["created_at"]),
            m["route"],
            _deliveries_summary(m),
            short(m["text"]),
        ]
        for m in data["items"]
    ]
    print(table(["id", "state", "when", "route", "channels", "text"], rows))
    return EXIT_OK


def _progress_line(m: dict[str, Any]) -> str:
    parts = []
    for d in m["deliveries"]:
        p = d.get("progress")
        if p and "total" in p:
            parts.append(f"{d['channel']} {p.get('done', 0)}/{p['total']}")
        else:
            parts.append(f"{d['channel']} {d['state']}")
    return f"message {m['id']} {m['state']}: " + ", ".join(parts)


def cmd_show(args: argparse.Namespace) -> int:
    m = _call(args, "GET", f"/api/v1/messages/{args.id}")
    if args.watch and not args.json:
        last = ""
        while m["state"] in ("queued", "scheduled"):
            line = _progress_line(m)
            if line != last:
                print(line, flush=True)
                last = line
            time.sleep(1.0)
            m = _call(args, "GET", f"/api/v1/messages/{args.id}")
    if args.json:
        print(json.dumps(m))
        return EXIT_OK
    print(f"message {m['id']}  {m['state']}  (route {m['route']}, by {who(m['created_by'])})")
    print(f"created   {when(m['created_at'])}")
    if m["scheduled_at"]:
        print(f"scheduled {when(m['scheduled_at'], hint=True)}")
    if m["expires_at"]:
        print(f"expires   {when(m['expires_at'], hint=True)}")
    if m["title"]:
        print(f"title: {m['title']}")
    print(f"\n{m['text']}\n")
    events = _call(args, "GET", "/api/v1/events", params={"message_id": str(m["id"])})["items"]
    down = {e["channel"] for e in events if e["kind"] == "delivery.retracted"}
    rows = [
        [
            d["channel"],
            d["state"] + (" (taken down)" if d["channel"] in down else ""),
            d["attempts"],
            d["url"] or d["remote_id"] or "",
            short(d["last_error"] or "", 80),
        ]
        for d in m["deliveries"]
    ]
    print(table(["channel", "state", "attempts", "post", "last error"], rows))
    if any(len(d["last_error"] or "") > 80 for d in m["deliveries"]):
        print("(errors shortened; --json shows them in full)")
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    try:
        m = _call(args, "POST", f"/api/v1/messages/{args.id}/cancel")
    except ApiError as exc:
        if exc.status != 409 or args.json:
            raise
        print(f"error: {exc.detail}; cancel never takes down what was published "
              f"(use `failover retract {args.id}` for that)", file=sys.stderr)  # fmt: skip
        return EXIT_CONFLICT
    if args.json:
        print(json.dumps(m))
    else:
        print(_cancel_words(m))
    return EXIT_OK


def _cancel_words(m: dict[str, Any]) -> str:
    """What cancel did, honestly: what it stopped, and what was already public."""
    by_state: dict[str, list[str]] = {}
    for d in m["deliveries"]:
        by_state.setdefault(d["state"], []).append(d["channel"])
    parts = []
    if by_state.get("cancelled"):
        parts.append(f"stopped the pending deliveries on {', '.join(by_state['cancelled'])}")
    if by_state.get("delivered"):
        parts.append(
            f"already published on {', '.join(by_state['delivered'])} "
            f"(use `failover retract {m['id']}` to take it down)"
        )
    return f"message {m['id']}: " + ("; ".join(parts) or "nothing was pending")


def cmd_retract(args: argparse.Namespace) -> int:
    result = _call(args, "POST", f"/api/v1/messages/{args.id}/retract")
    if args.json:
        print(json.dumps(result))
    else:
        print(_retract_words(result))
    failed = [c for c in result["channels"] if c["outcome"] == "failed"]
    return EXIT_FAIL if failed else EXIT_OK


def _retract_words(result: dict[str, Any]) -> str:
    lines = [f"message {result['message_id']}:"]
    if result["stopped"]:
        lines.append(f"  stopped the pending deliveries on {', '.join(result['stopped'])}")
    said = {"retracted": "taken down", "failed": "NOT taken down", "cannot": "cannot be taken down"}
    for c in result["channels"]:
        lines.append(f"  {c['channel']}: {said[c['outcome']]} ({c['detail']})")
    if any(c["outcome"] == "failed" for c in result["channels"]):
        lines.append("  run the same command again to retry where it failed")
    if len(lines) == 1:
        lines.append("  nothing was published, so nothing to take down")
    return "\n".join(lines)


def cmd_force(args: argparse.Namespace) -> int:
    c = _call(args, "POST", f"/api/v1/channels/{args.channel}/force", body={"state": args.state})
    if args.json:
        print(json.dumps(c))
    else:
        print(f"channel {c['name']}: forced {c['forced']}, health now {c['health']}")
    return EXIT_OK


def cmd_events(args: argparse.Namespace) -> int:
    params = {"limit": str(args.limit)}
    if args.channel:
        params["channel"] = args.channel
    data = _call(args, "GET", "/api/v1/events", params=params)
    if args.json:
        print(json.dumps(data))
        return EXIT_OK
    labels: dict[str, str] = {
        str(c["name"]): str(c.get("display_name") or c["name"])
        for c in _call(args, "GET", "/api/v1/channels")["items"]
    }

    def label(name: str | None) -> str:
        return labels.get(name or "", name or "")

    rows = [
        [when(e["at"]), e["message_id"] or "", short(sentence(e, label), 90)] for e in data["items"]
    ]
    print(table(["at", "message", "what happened"], rows))
    print("(--json has every event's kind and full detail)")
    return EXIT_OK


def cmd_drill(args: argparse.Namespace) -> int:
    try:
        duration = parse_duration(args.duration)
    except ValueError as exc:
        raise _InputError(f"--for: {exc}") from None
    from failover.drill import run_drill

    report = asyncio.run(
        run_drill(_client(args), args.channel, duration, args.route, args.text, args.public)
    )
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"drill ({'public' if args.public else 'operators only'}): {args.channel} forced "
            f"down for {duration:g}s; test message {report['message_id']}"
        )
        print(table(["step", "seconds"], [[k, f"{v:.3f}"] for k, v in report["steps"].items()]))
        rows = [
            [
                d["channel"],
                d["state"],
                d["url"] or "",
                "" if d["after_s"] is None else f"{d['after_s']:.3f}",
            ]
            for d in report["deliveries"]
        ]
        print(table(["channel", "state", "post", "delivered after s"], rows))
        print(
            "result: "
            + (
                "PASS — the message reached a fallback"
                if report["passed"]
                else "FAIL — no fallback got it"
            )
        )
    return EXIT_OK if report["passed"] else EXIT_FAIL


# --- helpers -----------------------------------------------------------------------------------


# API fields as the options that set them, so an error names what the user typed.
FLAGS = {
    "text": "TEXT", "scheduled_at": "--at", "expires_at": "--expires", "route": "--route",
    "title": "--title", "link": "--link", "content_warning": "--cw", "language": "--lang",
    "images": "--image", "thread": "--thread", "overrides": "--override",
    "Idempotency-Key": "--idempotency-key", "state": "--state", "limit": "--limit",
}  # fmt: skip


def _api_error(exc: ApiError, args: argparse.Namespace) -> int:
    url = getattr(args, "url", "")
    if exc.status == 0:
        message, code = exc.detail, EXIT_UNREACHABLE
    elif exc.status == 401:
        message = (
            f"the daemon at {url} refused the API token ({exc.detail or 'unknown or revoked'}); "
            "check FAILOVER_TOKEN or --token, or create a new one with `failover token create`"
        )
        code = EXIT_DENIED
    elif exc.status == 403:
        message, code = f"not allowed: {exc.detail or exc.title}", EXIT_DENIED
    elif exc.status == 404:
        message, code = f"not found: {exc.detail or exc.title}", EXIT_NOT_FOUND
    elif exc.status == 409:
        message, code = exc.detail or exc.title, EXIT_CONFLICT
    elif exc.status in (400, 413, 422):
        message, code = _input_problem(exc), EXIT_INPUT
    elif exc.status == 429:
        message, code = f"too many failed logins from here: {exc.detail}", EXIT_DENIED
    elif exc.status == 503:
        message = f"the daemon at {url} is up but cannot work right now: {exc.detail}"
        code = EXIT_FAIL
    else:
        message = f"the daemon at {url} answered {exc.status} {exc.title}: {exc.detail}"
        code = EXIT_FAIL
    print(f"error: {message}", file=sys.stderr)
    return code


def _input_problem(exc: ApiError) -> str:
    detail = exc.detail or exc.title
    if exc.field:
        head = exc.field.split(".", 1)[0]
        flag = FLAGS.get(exc.field) or FLAGS.get(head)
        if flag:
            detail = detail.removeprefix(f"{exc.field}: ")
            return f"{flag}: {detail}"
    return detail


def _parse_time(
    raw: str, tz: str | None, base: datetime, flag: str, relative: bool = False
) -> datetime:
    raw = raw.strip()
    if raw.startswith("+") or (relative and raw[:1].isdigit() and not _looks_iso(raw)):
        try:
            return base + timedelta(seconds=parse_duration(raw.lstrip("+")))
        except ValueError as exc:
            raise _InputError(f"{flag}: {exc}") from None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _InputError(
            f'{flag}: expected an ISO time like 2026-12-01T09:00+01:00, or "+10m"'
        ) from None
    if value.tzinfo is None:
        if not tz:
            raise _InputError(
                f"{flag}: {raw!r} has no time zone; add one (Z, +01:00) or pass --tz Europe/Paris"
            )
        try:
            value = value.replace(tzinfo=ZoneInfo(tz))
        except (ZoneInfoNotFoundError, ValueError):
            raise _InputError(f"--tz: unknown time zone {tz!r}") from None
    return value


def _looks_iso(raw: str) -> bool:
    return len(raw) >= 10 and raw[4] == "-" and raw[7] == "-"


def _split_override(raw: str) -> tuple[str, str]:
    name, sep, text = raw.partition("=")
    if not sep or not name:
        raise _InputError(f"--override {raw!r}: expected CHANNEL=TEXT")
    return name, text


def _deliveries_summary(m: dict[str, Any]) -> str:
    return " ".join(
        f"{d['channel']}:{d['state']}" for d in m["deliveries"] if d["state"] != "skipped"
    )


if __name__ == "__main__":
    sys.exit(main())
