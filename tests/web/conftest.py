"""A daemon with a webhook, a Mastodon peer and the public feed, for the web and API tests."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests import system_tools
from tests.harness import Harness, start_daemon, write_config
from tests.peers.mastodon_api import TOKEN as MASTO_TOKEN
from tests.peers.mastodon_api import MastodonPeer
from tests.peers.webhook_receiver import WebhookReceiver
from tests.secrets_registry import secret

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HOOK_SECRET = secret("whsec-web-tests-0123456789")
secret(MASTO_TOKEN)


def web_config(hook: WebhookReceiver, masto: MastodonPeer) -> str:
    return f"""
    [channels.hook]
    type = "webhook"
    url = "{hook.server.url}/hook"
    secret = "${{TEST_HOOK_SECRET}}"
    timeout = 2

    [channels.masto]
    type = "mastodon"
    api_base_url = "{masto.url}"
    access_token = "${{TEST_MASTO_TOKEN}}"

    [channels.status]
    type = "feed"
    title = "Acme status"

    [routes.default]
    tiers = [["hook"], ["masto", "status"]]

    [routes.fediverse]
    mode = "broadcast"
    tiers = [["masto", "status"]]
    """


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright."""
    if not Path(CHROMIUM).exists():
        system_tools.missing(
            f"Chromium ({CHROMIUM})", "apt-get install chromium (or bash .ci/install-system.sh)"
        )
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        await b.close()


@pytest.fixture
async def hook() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver(secret=HOOK_SECRET) as r:
        yield r


@pytest.fixture
async def masto() -> AsyncIterator[MastodonPeer]:
    async with MastodonPeer() as peer:
        yield peer


@pytest.fixture
async def web(
    tmp_path: Path, hook: WebhookReceiver, masto: MastodonPeer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    monkeypatch.setenv("TEST_HOOK_SECRET", HOOK_SECRET)
    monkeypatch.setenv("TEST_MASTO_TOKEN", MASTO_TOKEN)
    h = await start_daemon(write_config(tmp_path, web_config(hook, masto)))
    yield h
    await h.daemon.stop()
