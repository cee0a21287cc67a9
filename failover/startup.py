"""What people read in the first minute: where the web UI and public page are, how to get a
first token, and which channels are not connected — each said once, in one short line.

The full reasons stay in ``ChannelConfig.missing`` (check-config, ``--json``, the UI's details);
these helpers only shorten them.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys

from failover.clock import Clock
from failover.config import ChannelConfig, Config
from failover.live_channels import ChannelSet
from failover.store.base import Store

log = logging.getLogger("failover.daemon")

_NAMES_WIDTH = 80  # list the missing references in full up to this many characters


def missing_refs(ch: ChannelConfig) -> list[str]:
    """The secret references a channel lacks: ``X_CONSUMER_KEY``, ``file:/run/key``, ..."""
    refs = []
    for problem in ch.missing:
        _, _, why = problem.partition(": ")
        if why.startswith("environment variable "):
            refs.append(why.removeprefix("environment variable ").split(" ", 1)[0])
        else:
            refs.append(why.split(": ", 1)[0])
    return refs


def not_connected(ch: ChannelConfig) -> str | None:
    """One line, e.g. "x: not connected — 4 credentials missing (X_CONSUMER_KEY, …)"; None if ok."""
    if not ch.enabled:
        return f"{ch.name}: turned off in the config (enabled = false)"
    if not ch.missing:
        return None
    refs = missing_refs(ch)
    names = ", ".join(refs)
    if len(names) > _NAMES_WIDTH:
        names = names[: _NAMES_WIDTH - 1].rsplit(", ", 1)[0] + ", …"
    count = f"{len(refs)} credential{'s' if len(refs) != 1 else ''} missing"
    return f"{ch.name}: not connected — {count} ({names})"


def short_problem(ch: ChannelConfig) -> str | None:
    """The few words a screen shows for a channel that cannot be used; details elsewhere."""
    if not ch.enabled:
        return "turned off in the config"
    if ch.missing:
        return "not connected: credentials missing"
    if ch.options is None:
        return "not connected: its settings are invalid"
    return None


def short_reason(problem: str | None, width: int = 80) -> str:
    """A channel's problem as a screen or table shows it; the full text stays in --json and
    behind a details disclosure."""
    if not problem:
        return ""
    if problem.startswith("missing secrets"):
        return "not connected: credentials missing"
    if problem == "disabled in the config":
        return "turned off in the config"
    if problem == "options invalid":
        return "not connected: its settings are invalid"
    line = " ".join(problem.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def program() -> str:
    """How this process was started (``.venv/bin/failover``), for commands people copy."""
    argv0 = sys.argv[0] if sys.argv else ""
    return argv0 if os.path.basename(argv0) == "failover" else "failover"


def token_create_command(config: Config, role: str = "admin", name: str = "me") -> str:
    """The exact command that makes a token for the daemon running with ``config``."""
    cmd = [program(), "token", "create", "--role", role, "--name", name]
    if config.source is not None:
        cmd += ["-c", str(config.source)]
    return shlex.join(cmd)


def ready_line(config: Config, public_page: str | None) -> str:
    """The line that says the daemon is up and where people click."""
    base = f"http://{config.api.listen}"
    page = f"public page {public_page}" if public_page else "no public page (no feed channel)"
    return f"ready — web UI {base}/ui/ · {page} · API {base}/api/v1/"


async def recover_claims(store: Store, clock: Clock) -> None:
    """A store of our own (SQLite): any claim left in it is from a daemon that died. Hand the
    deliveries back (marked uncertain, so adapters reconcile before re-posting). On a shared
    store other daemons' claims are live; a dead one's expire with their lease."""
    if store.shared:
        return
    released = await store.release_claims(None, clock.now())
    if released:
        log.warning(
            "recovered %d deliveries that were in flight when the last run ended", len(released)
        )


def report_unconnected(channels: ChannelSet) -> None:
    """One warning line per channel that cannot be used, the short way."""
    for live in channels.all():
        if live.problem:
            short = not_connected(live.config) or f"{live.name}: {live.problem}"
            log.warning("%s", short, extra={"event": "channel.unavailable"})


async def report_ready(store: Store, config: Config, version: str, public_page: str | None) -> None:
    """The ready line, and the command for a first token while there is none."""
    log.info(
        "failover %s %s",
        version,
        ready_line(config, public_page),
        extra={"event": "daemon.started"},
    )
    if not any(t.revoked_at is None for t in await store.tokens()):
        log.info(
            "no API token yet; create the first one with: %s",
            token_create_command(config),
            extra={"event": "daemon.no_tokens"},
        )
