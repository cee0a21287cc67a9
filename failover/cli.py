"""The ``failover`` command.

``run``, ``check-config``, ``token`` and ``migrate`` work on the local config and store;
the message and status commands talk to a running daemon's API (``--url``/``FAILOVER_URL``
and ``--token``/``FAILOVER_TOKEN``), so they work from any host. Tables for people,
``--json`` for scripts. Exit codes: 0 ok, 1 failure, 2 invalid input, 3 not found,
4 not allowed (401/403), 5 conflict, 69 daemon unreachable, 78 configuration error
(``check-config`` exits 1 for a valid config in which some channel lacks its secrets).
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from failover import __version__
from failover.client import ApiError, Client
from failover.durations import parse_duration

if TYPE_CHECKING:
    from failover.config import Config

EXIT_OK, EXIT_FAIL, EXIT_INPUT, EXIT_NOT_FOUND, EXIT_DENIED, EXIT_CONFLICT = 0, 1, 2, 3, 4, 5
EXIT_UNREACHABLE, EXIT_CONFIG = 69, 78
DEFAULT_CONFIG = os.environ.get("FAILOVER_CONFIG", "/etc/failover/config.toml")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_INPUT
    try:
        code: int = args.func(args)
        return code
    except ApiError as exc:
        return _api_error(exc)
    except _InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130


class _InputError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="failover", description="Multi-channel communications fallback daemon."
    )
    p.add_argument("--version", action="version", version=f"failover {__version__}")
    sub = p.add_subparsers(metavar="COMMAND")

    def local(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_)
        sp.add_argument(
            "-c", "--config", default=DEFAULT_CONFIG, help=f"config file (default {DEFAULT_CONFIG})"
        )
        return sp

    def remote(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_)
        sp.add_argument(
            "--url",
            default=os.environ.get("FAILOVER_URL", "http://127.0.0.1:8080"),
            help="daemon API base URL (env FAILOVER_URL)",
        )
        sp.add_argument(
            "--token",
            default=os.environ.get("FAILOVER_TOKEN"),
            help="API token (env FAILOVER_TOKEN)",
        )
        sp.add_argument("--json", action="store_true", help="print JSON for scripts")
        return sp

    sp = local("run", "run the daemon")
    sp.set_defaults(func=cmd_run)

    sp = local("check-config", "validate the config, print resolved channels and routes")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_check_config)

    sp = local("migrate", "bring the store's schema up to date")
    sp.set_defaults(func=cmd_migrate)

    tok = sub.add_parser("token", help="API tokens (local store)")
    toks = tok.add_subparsers(metavar="ACTION")
    for action in ("create", "list", "revoke"):
        sp = toks.add_parser(action)
        sp.add_argument("-c", "--config", default=DEFAULT_CONFIG)
        sp.add_argument("--json", action="store_true")
        if action == "create":
            sp.add_argument(
                "--role", required=True, choices=["viewer", "publisher", "operator", "admin"]
            )
            sp.add_argument(
                "--name", required=True, help="who or what uses it, e.g. marketing-laptop"
            )
        if action == "revoke":
            sp.add_argument("id", type=int)
        sp.set_defaults(func=cmd_token, action=action)

    sp = remote("post", "post a message")
    sp.add_argument("text", help="the text; - reads standard input")
    sp.add_argument("--route")
    sp.add_argument("--at", help='when: ISO time with zone ("2026-12-01T09:00+01:00"), or "+10m"')
    sp.add_argument("--tz", help="time zone for an --at/--expires without one, e.g. Europe/Paris")
    sp.add_argument("--expires", help='ISO time with zone, or a duration after --at/now like "6h"')
    sp.add_argument("--title")
    sp.add_argument("--link")
    sp.add_argument("--cw", dest="content_warning", help="content warning")
    sp.add_argument("--lang", dest="language")
    sp.add_argument("--image", action="append", default=[], help="image file (repeatable)")
    sp.add_argument(
        "--alt", action="append", default=[], help="alt text for each --image, in order"
    )
    sp.add_argument("--thread", type=int, help="id of the message this one continues")
    sp.add_argument("--override", action="append", default=[], metavar="CHANNEL=TEXT")
    sp.add_argument("--idempotency-key", help="repeat-safe key (default: none)")
    sp.set_defaults(func=cmd_post)

    sp = remote("status", "channels, health and queue")
    sp.set_defaults(func=cmd_status)

    sp = remote("messages", "recent messages")
    sp.add_argument("--limit", type=int, default=20)
    sp.add_argument("--state")
    sp.set_defaults(func=cmd_messages)

    sp = remote("show", "one message with its deliveries")
    sp.add_argument("id", type=int)
    sp.add_argument(
        "--watch", action="store_true", help="follow a sending message until it settles"
    )
    sp.set_defaults(func=cmd_show)

    sp = remote("cancel", "cancel what is still pending of a message")
    sp.add_argument("id", type=int)
    sp.set_defaults(func=cmd_cancel)

    sp = remote("force", "force a channel down or up, or back to automatic health")
    sp.add_argument("channel")
    sp.add_argument("state", choices=["down", "up", "auto"])
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

    sp = remote("events", "the event timeline (newest first)")
    sp.add_argument("--channel")
    sp.add_argument("--limit", type=int, default=30)
    sp.set_defaults(func=cmd_events)
    return p


# --- local commands ----------------------------------------------------------------------------


def _load(path: str) -> Any:
    from failover.config import load_config
    from failover.errors import ConfigError

    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"config error in {exc.source or path}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def cmd_run(args: argparse.Namespace) -> int:
    from failover import logs
    from failover.daemon import Daemon, _secret_values
    from failover.errors import FailoverError

    config = _load(args.config)
    logs.setup(config.log.level, config.log.format)
    logs.register_secrets(_secret_values(config))
    try:
        code = asyncio.run(Daemon(config).run())
    except FailoverError as exc:
        print(f"failover: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except OSError as exc:
        print(f"failover: cannot start: {exc}", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK if code == 0 else EXIT_FAIL


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args.config)
    data = config.masked()
    unavailable = {n: c for n, c in data["channels"].items() if not c["available"]}
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        print(f"config {args.config}: valid")
        print(
            f"state_dir  {data['state_dir']}\nstore      {data['store']}\napi        {config.api.listen}"
        )
        rows = [
            [n, c["type"], "yes" if c["available"] else "NO", "; ".join(c["missing"])]
            for n, c in data["channels"].items()
        ]
        print("\nchannels:")
        print(_table(["name", "type", "available", "problem"], rows))
        print("\nroutes:")
        rows = [
            [n, r["mode"], " -> ".join("+".join(t) for t in r["tiers"]), r["fit"]]
            for n, r in data["routes"].items()
        ]
        print(_table(["name", "mode", "tiers", "fit"], rows))
        print(f"default route: {data['default_route']}")
    _print_incident_warnings(config)
    if unavailable:
        # Valid, but not everything can run: say what is missing, and fail so scripts notice.
        for name, c in unavailable.items():
            print(
                f"error: channel {name} is unavailable: {'; '.join(c['missing']) or 'disabled'}",
                file=sys.stderr,
            )
        return EXIT_FAIL
    return EXIT_OK


def _print_incident_warnings(config: Config) -> None:
    from failover.config_warnings import incident_warnings

    for warning in incident_warnings(config):
        print(f"warning: {warning}", file=sys.stderr)


def cmd_migrate(args: argparse.Namespace) -> int:
    from failover.store import open_store

    config = _load(args.config)

    async def go() -> None:
        store = open_store(config)
        await store.open()
        await store.close()

    asyncio.run(go())
    print("store schema is up to date")
    return EXIT_OK


def cmd_token(args: argparse.Namespace) -> int:
    from failover.clock import SystemClock
    from failover.model import Role
    from failover.store import open_store
    from failover.tokens import new_token, token_hash

    config = _load(args.config)
    clock = SystemClock()

    async def go() -> int:
        store = open_store(config)
        await store.open()
        try:
            if args.action == "create":
                secret = new_token()
                token = await store.create_token(
                    args.name,
                    Role.parse(args.role),
                    token_hash(secret),
                    f"cli:{os.environ.get('USER', 'unknown')}",
                    clock.now(),
                )
                if args.json:
                    print(
                        json.dumps(
                            {
                                "id": token.id,
                                "name": token.name,
                                "role": token.role.label,
                                "token": secret,
                            }
                        )
                    )
                else:
                    print(secret)
                    print(
                        f"token {token.id} ({token.name}, {token.role.label}) created; "
                        "it is shown only this once",
                        file=sys.stderr,
                    )
                return EXIT_OK
            if args.action == "list":
                tokens = await store.tokens()
                if args.json:
                    from failover.api.views import token_json

                    print(json.dumps([token_json(t) for t in tokens]))
                else:
                    print(
                        _table(
                            ["id", "name", "role", "created", "last used", "revoked"],
                            [
                                [
                                    t.id,
                                    t.name,
                                    t.role.label,
                                    _when(t.created_at),
                                    _when(t.last_used_at),
                                    _when(t.revoked_at),
                                ]
                                for t in tokens
                            ],
                        )
                    )
                return EXIT_OK
            if await store.revoke_token(args.id, clock.now()):
                print(f"token {args.id} revoked")
                return EXIT_OK
            print(f"error: no live token {args.id}", file=sys.stderr)
            return EXIT_NOT_FOUND
        finally:
            await store.close()

    return asyncio.run(go())


# --- remote commands ---------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> Client:
    return Client(args.url, args.token)


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
        when = f", scheduled for {msg['scheduled_at']}" if msg.get("scheduled_at") else ""
        channels = [d["channel"] for d in msg["deliveries"] if d["state"] != "skipped"]
        print(f"message {msg['id']} accepted ({msg['state']}{when}) -> {', '.join(channels)}")
        for d in msg["deliveries"]:
            if d["state"] == "skipped":
                print(f"  skipped {d['channel']}: {d['last_error']}")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    data = _call(args, "GET", "/api/v1/status")
    if args.json:
        print(json.dumps(data))
        return EXIT_OK
    rows = [
        [
            c["name"],
            c["type"],
            c["health"] if c["available"] else "unavailable",
            c["forced"] if c["forced"] != "auto" else "",
            _when(c["since"]),
            c["problem"] or c["reason"],
        ]
        for c in data["channels"]
    ]
    print(_table(["channel", "type", "health", "forced", "since", "why"], rows))
    q = data["queue"]
    age = f", oldest due {q['oldest_due_age_s']:.0f}s ago" if q["oldest_due_age_s"] else ""
    print(f"\nqueue: {q['pending']} pending ({q['due']} due), {q['sending']} sending{age}")
    nodes = data.get("cluster") or []
    if nodes:
        print()
        rows = [
            [n["node"], "leader" if n["leads"] else "follower", _when(n["since"]),
             _when(n["seen"]), n.get("api", "")]
            for n in nodes
        ]  # fmt: skip
        print(_table(["daemon", "role", "up since", "last seen", "api"], rows))
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
            _when(m["scheduled_at"] or m["created_at"]),
            m["route"],
            _deliveries_summary(m),
            _short(m["text"]),
        ]
        for m in data["items"]
    ]
    print(_table(["id", "state", "when", "route", "channels", "text"], rows))
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
    print(f"message {m['id']}  {m['state']}  route {m['route']}  by {m['created_by']}")
    print(
        f"created {m['created_at']}"
        + (f"  scheduled {m['scheduled_at']}" if m["scheduled_at"] else "")
        + (f"  expires {m['expires_at']}" if m["expires_at"] else "")
    )
    if m["title"]:
        print(f"title: {m['title']}")
    print(f"\n{m['text']}\n")
    rows = [
        [
            d["channel"],
            d["tier"] + 1,
            d["state"],
            d["attempts"],
            d["url"] or d["remote_id"] or "",
            d["last_error"] or "",
        ]
        for d in m["deliveries"]
    ]
    print(_table(["channel", "tier", "state", "attempts", "post", "last error"], rows))
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    m = _call(args, "POST", f"/api/v1/messages/{args.id}/cancel")
    if args.json:
        print(json.dumps(m))
    else:
        cancelled = [d["channel"] for d in m["deliveries"] if d["state"] == "cancelled"]
        print(f"message {m['id']} cancelled on {', '.join(cancelled)}")
    return EXIT_OK


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
    rows = [
        [
            e["id"],
            _when(e["at"]),
            e["kind"],
            e["channel"] or "",
            e["message_id"] or "",
            e["actor"] or "",
            _short(json.dumps(e["detail"]), 60),
        ]
        for e in data["items"]
    ]
    print(_table(["id", "at", "event", "channel", "message", "actor", "detail"], rows))
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
        print(_table(["step", "seconds"], [[k, f"{v:.3f}"] for k, v in report["steps"].items()]))
        rows = [
            [
                d["channel"],
                d["state"],
                d["url"] or "",
                "" if d["after_s"] is None else f"{d['after_s']:.3f}",
            ]
            for d in report["deliveries"]
        ]
        print(_table(["channel", "state", "post", "delivered after s"], rows))
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


def _api_error(exc: ApiError) -> int:
    print(f"error: {exc}", file=sys.stderr)
    if exc.status == 0:
        return EXIT_UNREACHABLE
    if exc.status in (401, 403):
        return EXIT_DENIED
    if exc.status == 404:
        return EXIT_NOT_FOUND
    if exc.status == 409:
        return EXIT_CONFLICT
    if exc.status in (400, 413, 422):
        return EXIT_INPUT
    return EXIT_FAIL


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


def _short(text: str, n: int = 50) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _when(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value).replace("T", " ")[:19]


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    if not rows:
        lines.append("(none)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
