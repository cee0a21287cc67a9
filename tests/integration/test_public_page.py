"""The public page tells the truth: it exists from the first start, speaks display names
(never config keys), claims nothing about a platform it cannot vouch for, and a recovery is
announced only for a channel known to work again."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from tests.harness import Harness, eventually, start_daemon, write_config
from tests.peers.webhook_receiver import WebhookReceiver


async def get(h: Harness, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(h.url + path) as r:
        return r.status, await r.text()


async def test_the_status_page_exists_from_the_first_start(tmp_path: Path) -> None:
    h = await start_daemon(
        write_config(
            tmp_path, '[channels.status]\ntype = "feed"\n\n[routes.default]\ntiers = [["status"]]\n'
        )
    )
    try:
        status, html = await get(h, "/status/")
        assert status == 200 and "No announcements yet." in html
        for feed in ("/status/feed.atom", "/status/feed.json"):
            assert (await get(h, feed))[0] == 200
        assert json.loads((await get(h, "/status/feed.json"))[1])["items"] == []
    finally:
        await h.daemon.stop()


async def test_state_json_names_platforms_and_says_unavailable_without_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("XK", "XS", "XT", "XTS"):
        monkeypatch.delenv(var, raising=False)
    body = """
    [channels.primary-x]
    type = "x"
    consumer_key = "${XK}"
    consumer_secret = "${XS}"
    access_token = "${XT}"
    access_token_secret = "${XTS}"

    [channels.status]
    type = "feed"

    [routes.default]
    tiers = [["primary-x"], ["status"]]
    """
    h = await start_daemon(write_config(tmp_path, body))
    try:
        status, raw = await get(h, "/status/state.json")
        assert status == 200
        assert json.loads(raw)["primary"] == [{"name": "X", "state": "unavailable", "since": None}]
        assert "primary-x" not in raw  # config keys stay internal
    finally:
        await h.daemon.stop()


async def test_force_auto_announces_recovery_only_for_a_channel_known_to_work(
    tmp_path: Path,
) -> None:
    async with WebhookReceiver() as primary:
        body = f"""
        [channels.hook]
        type = "webhook"
        url = "{primary.server.url}/hook"
        display_name = "Our platform"

        [channels.status]
        type = "feed"

        [routes.default]
        tiers = [["hook"], ["status"]]

        [routes.default.announce]
        down = "Trouble reaching {{channel}}."
        up = "{{channel}} is back."
        """
        h = await start_daemon(write_config(tmp_path, body))
        try:

            async def feed_texts() -> list[str]:
                items = json.loads((await get(h, "/status/feed.json"))[1])["items"]
                return [i["content_text"] for i in items]

            # Never used, never probed: forced down and back, its health is unknown.
            await h.request("POST", "/api/v1/channels/hook/force", role="operator",
                            json={"state": "down"})  # fmt: skip

            async def announced() -> bool:
                return "Trouble reaching Our platform." in await feed_texts()

            await eventually(announced)
            await h.request("POST", "/api/v1/channels/hook/force", role="operator",
                            json={"state": "auto"})  # fmt: skip
            await asyncio.sleep(1.0)
            assert "Our platform is back." not in await feed_texts()
            assert primary.received == []
            # An operator's "up" vouches for it: the recovery goes out at once.
            await h.request("POST", "/api/v1/channels/hook/force", role="operator",
                            json={"state": "down"})  # fmt: skip
            await h.request("POST", "/api/v1/channels/hook/force", role="operator",
                            json={"state": "up"})  # fmt: skip

            def back() -> bool:  # on the route's first tier, the primary, now up again
                return any(r.body["text"] == "Our platform is back." for r in primary.delivered())

            await eventually(back)
            assert (await feed_texts()).count("Trouble reaching Our platform.") == 1
        finally:
            await h.daemon.stop()
