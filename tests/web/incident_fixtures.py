"""A web daemon (tests/web/conftest.py's channels) with components for the incident pages,
one of them bound to the http probe of a local web site that a test can make fail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.harness import Harness, eventually, start_daemon, write_config
from tests.integration.test_incident_probes import Website
from tests.peers.mastodon_api import MastodonPeer
from tests.peers.webhook_receiver import WebhookReceiver
from tests.web.conftest import HOOK_SECRET, MASTO_TOKEN, web_config


def components(site: Website) -> str:
    return f"""
    [components.api]
    name = "API"
    group = "Platform"

    [components.web]
    name = "Website"

    [components.shop]
    name = "Shop"
    probe = "{site.url}"
    probe_interval = "100ms"
    probe_timeout = "2s"
    down_after = 2
    up_after = 2
    """


@pytest.fixture
async def site() -> AsyncIterator[Website]:
    s = Website()
    await s.runner.setup()
    await web.TCPSite(s.runner, "127.0.0.1", s.port).start()
    yield s
    await s.runner.cleanup()


@pytest.fixture
async def incident_web(
    tmp_path: Path,
    hook: WebhookReceiver,
    masto: MastodonPeer,
    site: Website,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Harness]:
    monkeypatch.setenv("TEST_HOOK_SECRET", HOOK_SECRET)
    monkeypatch.setenv("TEST_MASTO_TOKEN", MASTO_TOKEN)
    body = web_config(hook, masto) + components(site)
    h = await start_daemon(write_config(tmp_path, body))
    try:
        await eventually(lambda: _synced(h))
        yield h
    finally:
        await h.daemon.stop()


async def _synced(h: Harness) -> bool:
    return len(await h.daemon.store.list_components()) == 3


def hook_texts(hook: WebhookReceiver) -> list[str]:
    return [str(r.body.get("text", "")) for r in hook.delivered()]
