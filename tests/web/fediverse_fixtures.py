"""Fixtures the fediverse UI tests share: a Mastodon-shaped follower and a daemon whose only
channel is an activitypub actor that approves followers by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness import Harness, start_daemon, write_config
from tests.peers.mastodon_ap import MastodonAP


@pytest.fixture(name="masto")
async def fedi_masto() -> AsyncIterator[MastodonAP]:
    async with MastodonAP() as peer:
        yield peer


@pytest.fixture(name="web")
async def fedi_web(tmp_path: Path) -> AsyncIterator[Harness]:
    h = await start_daemon(write_config(tmp_path, """
    [channels.fedi]
    type = "activitypub"
    manually_approves_followers = true
    retry_spacing = 0.002

    [routes.default]
    tiers = [["fedi"]]
    """))  # fmt: skip
    yield h
    await h.daemon.stop()
