"""The commands that work on the daemon's host with its config file: run, check-config,
migrate and token. They open the config (and the store) directly; nothing goes over the API."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from failover.cli_output import (
    EXIT_CONFIG,
    EXIT_FAIL,
    EXIT_INPUT,
    EXIT_NOT_FOUND,
    EXIT_OK,
    table,
    when,
)

if TYPE_CHECKING:
    from failover.store.base import Store


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
    from failover.daemon import Daemon
    from failover.errors import FailoverError
    from failover.runtime import secret_values

    config = _load(args.config)
    logs.setup(config.log.level, config.log.format)
    logs.register_secrets(secret_values(config))
    try:
        code = asyncio.run(Daemon(config).run())
    except FailoverError as exc:
        print(f"failover: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except OSError as exc:
        print(f"failover: cannot start: {exc}", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK if code == 0 else EXIT_FAIL  # non-zero: a side task kept failing


def cmd_check_config(args: argparse.Namespace) -> int:
    from failover.config_report import check

    report = check(args.config)
    data = report.config.masked() if report.config else None
    if args.json:
        print(json.dumps({
            "valid": report.valid,
            "errors": [e.as_json() for e in report.errors],
            "warnings": [w.as_json() for w in report.warnings],
            "config": data,
        }, indent=2, default=str))  # fmt: skip
        return EXIT_OK if report.valid else EXIT_CONFIG
    if not report.valid:
        n = len(report.errors)
        print(
            f"config {args.config}: {n} error{'s' if n != 1 else ''}, in file order:",
            file=sys.stderr,
        )
        for e in report.errors:
            print(f"  {e}", file=sys.stderr)
        print(f"exit code {EXIT_CONFIG}: the config has errors; fix them before running the daemon")
        return EXIT_CONFIG
    assert report.config is not None and data is not None
    _print_config(args.config, report.config, data)
    for w in report.warnings:
        print(f"warning: {w}", file=sys.stderr)
    n = len(report.warnings)
    tail = f", with {n} warning{'s' if n != 1 else ''} (see above)" if n else ""
    print(f"\nvalid{tail}. exit code 0: the daemon will start with this file "
          f"(errors exit {EXIT_CONFIG}; warnings never change the exit code)")  # fmt: skip
    return EXIT_OK


def _print_config(path: str, config: Any, data: dict[str, Any]) -> None:
    from failover.startup import short_problem

    print(f"config {path}: valid")
    print(
        f"state_dir  {data['state_dir']}\nstore      {data['store']}\napi        {config.api.listen}"
    )
    rows = [
        [n, ch.label, ch.type, "yes" if ch.available else "no", short_problem(ch) or ""]
        for n, ch in config.channels.items()
    ]
    print("\nchannels:")
    print(table(["name", "shown as", "type", "connected", "problem"], rows))
    print("\nroutes:")
    rows = [
        [n, r["mode"], " -> ".join("+".join(t) for t in r["tiers"]), r["fit"]]
        for n, r in data["routes"].items()
    ]
    print(table(["name", "mode", "tiers", "fit"], rows))
    print(f"default route: {data['default_route']}")


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
    from failover.store import open_store

    config = _load(args.config)
    action = {"create": _token_create, "list": _token_list, "revoke": _token_revoke}[args.action]

    async def go() -> int:
        store = open_store(config)
        await store.open()
        try:
            return await action(store, args)
        finally:
            await store.close()

    return asyncio.run(go())


async def _token_create(store: Store, args: argparse.Namespace) -> int:
    """Issue a token; its secret goes to stdout once, the note about it to stderr."""
    from failover.clock import SystemClock
    from failover.errors import InvalidInput
    from failover.model import Role
    from failover.tokens import issue

    try:
        token, secret = await issue(
            store,
            args.name,
            Role.parse(args.role),
            f"cli:{os.environ.get('USER', 'unknown')}",
            SystemClock().now(),
        )
    except InvalidInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if args.json:
        print(
            json.dumps(
                {"id": token.id, "name": token.name, "role": token.role.label, "token": secret}
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


async def _token_list(store: Store, args: argparse.Namespace) -> int:
    tokens = await store.tokens()
    if args.json:
        from failover.api.views import token_json

        print(json.dumps([token_json(t) for t in tokens]))
        return EXIT_OK
    rows = [
        [t.id, t.name, t.role.label, when(t.created_at), when(t.last_used_at), when(t.revoked_at)]
        for t in tokens
    ]
    print(table(["id", "name", "role", "created", "last used", "revoked"], rows))
    return EXIT_OK


async def _token_revoke(store: Store, args: argparse.Namespace) -> int:
    from failover.clock import SystemClock

    if await store.revoke_token(args.id, SystemClock().now()):
        print(f"token {args.id} revoked")
        return EXIT_OK
    print(f"error: no live token {args.id}", file=sys.stderr)
    return EXIT_NOT_FOUND
