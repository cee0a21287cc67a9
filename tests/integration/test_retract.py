"""Retract: a published message is taken down from every channel that can delete it — X
(DELETE /2/tweets/:id, a whole thread), Mastodon, Bluesky (deleteRecord), Slack (chat.delete),
the status page and its feeds — and email-like channels say plainly that they cannot unsend.
Each outcome is recorded per channel; a failure is retried, and retracting again retries only
what is still up."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import Harness, start_daemon, write_config
from tests.peers.bluesky_pds import APP_PASSWORD, HANDLE, BlueskyPds
from tests.peers.faults import Fault
from tests.peers.mastodon_api import TOKEN as MASTO_TOKEN
from tests.peers.mastodon_api import MastodonPeer
from tests.peers.slack_api import TOKEN as SLACK_TOKEN
from tests.peers.slack_api import SlackPeer
from tests.peers.webhook_receiver import WebhookReceiver
from tests.peers.x_api import ACCESS_SECRET, ACCESS_TOKEN, CONSUMER_KEY, CONSUMER_SECRET, XPeer
from tests.secrets_registry import secret

SECRETS = {
    "RT_X_KEY": CONSUMER_KEY, "RT_X_SECRET": secret(CONSUMER_SECRET),
    "RT_X_TOKEN": secret(ACCESS_TOKEN), "RT_X_TOKEN_SECRET": secret(ACCESS_SECRET),
    "RT_MASTO": secret(MASTO_TOKEN), "RT_SKY": secret(APP_PASSWORD), "RT_SLACK": secret(SLACK_TOKEN),
}  # fmt: skip


@dataclass
class Peers:
    x: XPeer
    masto: MastodonPeer
    sky: BlueskyPds
    slack: SlackPeer
    hook: WebhookReceiver


def config(p: Peers) -> str:
    return f"""
    [channels.x]
    type = "x"
    api_base = "{p.x.url}"
    consumer_key = "${{RT_X_KEY}}"
    consumer_secret = "${{RT_X_SECRET}}"
    access_token = "${{RT_X_TOKEN}}"
    access_token_secret = "${{RT_X_TOKEN_SECRET}}"

    [channels.masto]
    type = "mastodon"
    api_base_url = "{p.masto.url}"
    access_token = "${{RT_MASTO}}"

    [channels.sky]
    type = "bluesky"
    service = "{p.sky.url}"
    handle = "{HANDLE}"
    app_password = "${{RT_SKY}}"

    [channels.team]
    type = "slack"
    api_base = "{p.slack.api_base}"
    token = "${{RT_SLACK}}"
    channel = "#status"

    [channels.hook]
    type = "webhook"
    url = "{p.hook.server.url}/hook"

    [channels.status]
    type = "feed"

    [routes.default]
    mode = "broadcast"
    tiers = [["x", "masto", "sky", "team", "hook", "status"]]
    """


@pytest.fixture
async def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Harness, Peers]]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    async with (
        XPeer() as x, MastodonPeer() as masto, BlueskyPds() as sky, SlackPeer() as slack,
        WebhookReceiver() as hook,
    ):  # fmt: skip
        peers = Peers(x, masto, sky, slack, hook)
        h = await start_daemon(write_config(tmp_path, config(peers)))
        yield h, peers
        await h.daemon.stop()


def by_channel(result: dict[str, object]) -> dict[str, tuple[str, str]]:
    return {c["channel"]: (c["outcome"], c["detail"]) for c in result["channels"]}  # type: ignore[index,attr-defined]


async def test_retract_takes_the_post_down_everywhere_it_can(
    env: tuple[Harness, Peers], tmp_path: Path
) -> None:
    h, p = env
    text = "We posted the wrong date for the sale. " + "Please ignore this post. " * 12
    m = await h.post(text=text)
    await h.wait_state(m["id"], "delivered")
    assert len(p.x.state.tweets) == 2  # a thread on X
    assert p.masto.state.statuses and p.sky.posts() and p.slack.state.messages
    p.x.server.set_fault(Fault.WRITES_FAIL, times=1)  # X refuses the first DELETE (503)

    status, result = await h.request(
        "POST", f"/api/v1/messages/{m['id']}/retract", role="publisher"
    )
    assert status == 200, result
    outcome = by_channel(result)
    assert outcome["x"] == ("retracted", "2 posts")  # after one retry
    for channel in ("masto", "sky", "team", "status"):
        assert outcome[channel][0] == "retracted", (channel, outcome[channel])
    assert outcome["hook"] == (
        "cannot",
        "a webhook cannot be unsent: ask the receiver's owner to remove it",
    )
    assert p.x.state.tweets == [] and p.masto.state.statuses == []
    assert p.sky.posts() == [] and p.slack.state.messages == []
    public = tmp_path / "state" / "channels" / "status" / "public"
    assert json.loads((public / "feed.json").read_text())["items"] == []
    assert "We posted the wrong date" not in (public / "index.html").read_text()

    # Recorded per channel, and the timeline says it in words.
    _, events = await h.request("GET", f"/api/v1/events?message_id={m['id']}")
    kinds = {(e["kind"], e["channel"]) for e in events["items"]}
    assert ("delivery.retracted", "x") in kinds and ("delivery.retract_impossible", "hook") in kinds
    # Again: nothing is deleted twice.
    _, again = await h.request("POST", f"/api/v1/messages/{m['id']}/retract", role="publisher")
    assert by_channel(again)["x"] == ("retracted", "already taken down")


async def test_a_failed_retract_is_recorded_and_retried_the_next_time(
    env: tuple[Harness, Peers],
) -> None:
    h, p = env
    m = await h.post(text="Short and wrong")
    await h.wait_state(m["id"], "delivered")
    p.masto.server.set_fault(Fault.HTML_5XX)  # Mastodon is down for the whole first try
    _, first = await h.request("POST", f"/api/v1/messages/{m['id']}/retract", role="publisher")
    assert by_channel(first)["masto"][0] == "failed"
    assert len(p.masto.state.statuses) == 1
    p.masto.server.heal()
    _, second = await h.request("POST", f"/api/v1/messages/{m['id']}/retract", role="publisher")
    assert by_channel(second)["masto"] == ("retracted", "1 post")
    assert by_channel(second)["x"] == ("retracted", "already taken down")
    assert p.masto.state.statuses == []
    status, _ = await h.request("POST", "/api/v1/messages/999/retract", role="publisher")
    assert status == 404
    status, _ = await h.request("POST", f"/api/v1/messages/{m['id']}/retract", role="viewer")
    assert status == 403


async def test_cli_and_web_say_what_retract_and_cancel_did(
    env: tuple[Harness, Peers], capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from failover.cli import main
    from tests.web.web_session import login

    h, p = env
    base = ("--url", h.url, "--token", h.tokens["publisher"])
    m = await h.post(text="Posted by mistake")
    await h.wait_state(m["id"], "delivered")
    # Cancel is honest: nothing was pending, and what is public stays public.
    assert await asyncio.to_thread(main, ["cancel", str(m["id"]), *base]) == 5
    err = capsys.readouterr().err
    assert "nothing pending left to cancel; cancel never takes down what was published" in err
    assert f"failover retract {m['id']}" in err
    # The message page offers retract; the CLI says per channel what happened.
    s, csrf = await login(h.url, h.tokens["publisher"])
    async with s:
        async with s.get(h.url + f"/ui/messages/{m['id']}") as r:
            assert 'id="retract"' in await r.text()
        assert await asyncio.to_thread(main, ["retract", str(m["id"]), *base]) == 0
        out = capsys.readouterr().out
        assert "  x: taken down (1 post)" in out
        assert "  hook: cannot be taken down (a webhook cannot be unsent" in out
        async with s.get(h.url + f"/ui/messages/{m['id']}") as r:
            page = await r.text()
        assert "Taken down from X" in page and "Still up on Webhook: a webhook cannot be" in page
        assert page.count('<span class="tag">taken down</span>') == 5
        assert 'id="retract"' not in page  # nothing left that retract could take down
    assert p.x.state.tweets == []
    assert await asyncio.to_thread(main, ["show", str(m["id"]), *base]) == 0
    assert "delivered (taken down)" in capsys.readouterr().out
