"""The CLI speaks CLI: missing tokens, unreachable daemons, refused tokens and bad times are
said in the words of the options people typed, with the exit codes the help promises; every
command and option explains itself; times carry their zone."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from failover.cli import _parser, main
from tests.harness import Harness, free_port, start_daemon, write_config

CONFIG = """
[channels.status]
type = "feed"

[routes.default]
tiers = [["status"]]
"""


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Harness]:
    h = await start_daemon(write_config(tmp_path, CONFIG))
    yield h
    await h.daemon.stop()


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


def all_parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    found = [("failover", _parser())]
    for name, parser in found:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                found += [(f"{name} {n}", p) for n, p in action.choices.items()]
    return found


def test_every_command_and_option_has_help() -> None:
    parsers = all_parsers()
    assert len(parsers) > 15  # the commands and the token actions
    undocumented = [
        (name, a.dest)
        for name, parser in parsers
        for a in parser._actions
        if not isinstance(a, argparse._SubParsersAction) and not a.help
    ]
    assert undocumented == []
    for name, parser in parsers:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                listed = {c.dest for c in action._choices_actions}
                assert listed == set(action.choices), name
                assert all(c.help for c in action._choices_actions), name


def test_help_shows_examples_and_where_each_command_works(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "examples:\n  failover check-config -c failover.toml" in out
    assert "with its config file" in out and "run, check-config, migrate, token" in out
    assert "talking to a running daemon" in out and "post, status, messages" in out
    with pytest.raises(SystemExit):
        main(["token", "--help"])
    out = capsys.readouterr().out
    for action in ("create", "list", "revoke"):
        assert f"\n    {action} " in out


async def test_no_token_says_how_to_get_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAILOVER_TOKEN", raising=False)
    assert await cli("status", "--url", "http://127.0.0.1:9") == 4
    err = capsys.readouterr().err
    assert err.startswith(
        "error: no API token: set FAILOVER_TOKEN or pass --token (create one on the daemon's "
        "host with: failover token create --role publisher"
    )


async def test_an_unreachable_daemon_is_named_with_what_to_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert await cli("status", "--url", url, "--token", "t") == 69
    assert capsys.readouterr().err.strip() == (
        f"error: cannot reach the daemon at {url} (connection refused) — is `failover run` "
        "running there? (--url or FAILOVER_URL)"
    )


async def test_a_refused_token_and_a_past_time_speak_cli(
    daemon: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    url, token = daemon.url, daemon.tokens["publisher"]
    assert await cli("status", "--url", url, "--token", "not-a-token") == 4
    err = capsys.readouterr().err
    assert err.startswith(f"error: the daemon at {url} refused the API token")
    assert "failover token create" in err

    # A mistyped year: refused, nothing stored, and the way out named.
    last_year = (datetime.now(UTC) - timedelta(days=365)).strftime("%Y-%m-%dT09:00")
    args = ("post", "Sale!", "--url", url, "--token", token, "--tz", "Europe/Berlin")
    assert await cli(*args, "--at", last_year) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --at: is 365 days in the past (")
    assert "--allow-past" in err
    _, listed = await daemon.request("GET", "/api/v1/messages")
    assert listed["items"] == []
    # Within a minute is "now", not a mistake; --allow-past sends a past time on purpose.
    just_now = (datetime.now(UTC) - timedelta(seconds=20)).isoformat()
    assert await cli(*args, "--at", just_now) == 0
    assert await cli(*args, "--at", last_year, "--allow-past") == 0
    capsys.readouterr()


async def test_times_carry_their_zone_and_a_relative_hint(
    daemon: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    url, token = daemon.url, daemon.tokens["publisher"]
    year = datetime.now(UTC).year + 1
    base = ("--url", url, "--token", token, "--tz", "Europe/Berlin")
    assert await cli("post", "Winter sale", "--at", f"{year}-12-01T09:00", *base) == 0
    out = capsys.readouterr().out
    assert f"scheduled, for {year}-12-01 09:00 CET (in " in out
    message_id = out.split()[1]
    assert await cli("show", message_id, *base) == 0
    out = capsys.readouterr().out
    assert f"scheduled {year}-12-01 09:00 CET (in " in out and " days)" in out
    assert await cli("show", message_id, "--url", url, "--token", token, "--tz", "Asia/Tokyo") == 0
    assert f"scheduled {year}-12-01 17:00 JST" in capsys.readouterr().out
    assert await cli("messages", *base) == 0
    assert f"{year}-12-01 09:00 CET (in " in capsys.readouterr().out
    assert await cli("status", "--url", url, "--token", token, "--tz", "Mars/Base") == 2
    assert "unknown time zone 'Mars/Base'" in capsys.readouterr().err


async def test_status_and_events_speak_plain_words(
    daemon: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("--url", daemon.url, "--token", daemon.tokens["operator"], "--tz", "UTC")
    m = await daemon.post(text="Checkout is slow")
    await daemon.wait_state(m["id"], "delivered")
    assert await cli("force", "status", "down", *base) == 0
    assert await cli("events", *base) == 0
    out = capsys.readouterr().out
    assert "Posted on Status page" in out
    assert "test-operator marked Status page as down by hand" in out
    assert "delivery.delivered" not in out and "channel.forced" not in out
    assert await cli("status", *base) == 0
    out = capsys.readouterr().out
    assert "SHOWN AS" in out and "Status page" in out


def test_cancel_says_what_it_stopped_and_what_stays_public() -> None:
    from failover.cli import _cancel_words

    m = {"id": 7, "deliveries": [
        {"channel": "status", "state": "delivered"},
        {"channel": "x", "state": "cancelled"},
        {"channel": "ops-webhook", "state": "cancelled"},
    ]}  # fmt: skip
    assert _cancel_words(m) == (
        "message 7: stopped the pending deliveries on x, ops-webhook; already published on "
        "status (use `failover retract 7` to take it down)"
    )
