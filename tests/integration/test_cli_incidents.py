"""The incident commands end to end against a live daemon: open, update, resolve, list,
show; set and list components; schedule maintenance; bad input exits 2 and says why."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from failover.cli import main
from tests.harness import Harness, eventually, start_daemon, write_config

CONFIG = """
[channels.status]
type = "feed"

[routes.default]
tiers = [["status"]]

[components.api]
name = "API"

[components.web]
name = "Website"
"""


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Harness]:
    h = await start_daemon(write_config(tmp_path, CONFIG))

    async def synced() -> bool:
        return len(await h.daemon.store.list_components()) == 2

    await eventually(synced)
    yield h
    await h.daemon.stop()


async def cli(h: Harness, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    role = "operator" if argv[:2] == ("component", "set") else "publisher"  # as the API asks
    base = ["--url", h.url, "--token", h.tokens[role]]
    code = await asyncio.to_thread(main, [*argv[:2], *base, *argv[2:]])
    out, err = capsys.readouterr()
    return code, out, err


async def test_an_incident_from_the_command_line(
    daemon: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    h = daemon
    code, out, err = await cli(
        h, capsys, "incident", "open", "Checkout slow", "--body", "Payments take long.",
        "--impact", "major", "--component", "api=degraded_performance", "--json",
    )  # fmt: skip
    assert code == 0, err
    opened = json.loads(out)
    iid = str(opened["id"])
    assert opened["components"] == {"api": "degraded_performance"}
    code, out, err = await cli(h, capsys, "incident", "update", iid, "identified", "A slow database.")  # fmt: skip
    assert code == 0, err
    assert "identified" in out and "A slow database." in out
    code, out, err = await cli(h, capsys, "incident", "resolve", iid)
    assert code == 0, err
    code, out, _ = await cli(h, capsys, "incident", "show", iid, "--json")
    shown = json.loads(out)
    assert [u["state"] for u in shown["updates"]] == ["resolved", "identified", "investigating"]
    assert all(u["message_id"] for u in shown["updates"])
    messages = [await h.message(u["message_id"]) for u in shown["updates"]]
    assert messages[0]["text"] == "[Resolved] Checkout slow: This incident has been resolved."
    assert {m["thread"] for m in messages[:-1]} == {shown["thread_message_id"]}  # replies
    code, out, _ = await cli(h, capsys, "incident", "list")
    assert code == 0 and "Checkout slow" in out and "resolved" in out

    code, out, err = await cli(h, capsys, "component", "set", "web", "partial_outage")
    assert (code, out.strip()) == (0, "component web: partial_outage"), err
    code, out, _ = await cli(h, capsys, "component", "list", "--json")
    assert {c["id"]: c["status"] for c in json.loads(out)["items"]} == {
        "api": "operational",
        "web": "partial_outage",
    }
    code, out, err = await cli(
        h, capsys, "maintenance", "schedule", "DB upgrade", "--body", "Short pause.",
        "--start", "+2h", "--end", "+3h", "--component", "api", "--remind", "30m",
        "--auto-start", "--json",
    )  # fmt: skip
    assert code == 0, err
    planned = json.loads(out)
    assert (planned["state"], planned["remind_before"], planned["auto_start"]) == ("scheduled", 1800.0, True)  # fmt: skip


async def test_bad_input_exits_2_and_says_what_is_wrong(
    daemon: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    h = daemon
    code, _, err = await cli(h, capsys, "incident", "open", "x", "--body", "y", "--component", "nope=major_outage")  # fmt: skip
    assert code == 2 and "components.nope" in err and "known: api, web" in err
    code, _, err = await cli(h, capsys, "incident", "open", "x", "--body", "y", "--component", "api")  # fmt: skip
    assert code == 2 and "ID=STATUS" in err
    code, _, err = await cli(h, capsys, "component", "set", "api", "on_fire")
    assert code == 2 and "status" in err
    code, _, err = await cli(h, capsys, "incident", "show", "4242")
    assert code == 3 and "no incident 4242" in err
    code, _, err = await cli(
        h, capsys, "maintenance", "schedule", "x", "--body", "y", "--start", "2030-01-01T10:00",
        "--end", "+1h",
    )  # fmt: skip
    assert code == 2 and "--start" in err and "zone" in err
