"""A component bound to the daemon's http probe, against a local web server that starts
failing: the component turns major_outage and a draft incident waits for a human; nothing is
posted until it is published. A recovery before anyone confirms closes the draft unposted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from tests.harness import Harness, eventually, free_port, start_daemon, write_config
from tests.integration.test_incidents import mail_config
from tests.peers.smtp_server import Sink, smtp_server


class Website:
    """The company's site: answers /health with ``code``."""

    def __init__(self) -> None:
        self.code = 200
        self.hits = 0
        self.port = free_port()
        app = web.Application()
        app.router.add_get("/health", self._health)
        self.runner = web.AppRunner(app, access_log=None)

    async def _health(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(status=self.code, text="ok" if self.code == 200 else "down")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"


@pytest.fixture
async def site() -> AsyncIterator[Website]:
    s = Website()
    await s.runner.setup()
    await web.TCPSite(s.runner, "127.0.0.1", s.port).start()
    yield s
    await s.runner.cleanup()


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    s = Sink()
    with smtp_server(s) as port:
        yield s, port


def probed_config(tmp_path: Path, port: int, site: Website) -> Path:
    shop = f"""
    [components.shop]
    name = "Shop"
    probe = "{site.url}"
    probe_interval = "100ms"
    probe_timeout = "2s"
    down_after = 2
    up_after = 2
    """
    return write_config(tmp_path, mail_config(port) + shop)


@pytest.fixture
async def daemon(tmp_path: Path, sink: tuple[Sink, int], site: Website) -> AsyncIterator[Harness]:
    h = await start_daemon(probed_config(tmp_path, sink[1], site))
    try:
        yield h
    finally:
        await h.daemon.stop()


async def _shop(h: Harness) -> str:
    found = await h.daemon.store.get_component("shop")
    return found.status if found else "missing"


async def _drafts(h: Harness) -> list[dict[str, object]]:
    status, body = await h.request("GET", "/api/v1/incidents", role="viewer")
    assert status == 200, body
    return [i for i in body["items"] if i["draft"]]


async def test_a_failing_probe_opens_a_draft_that_posts_only_when_published(
    daemon: Harness, site: Website, sink: tuple[Sink, int]
) -> None:
    h, mails = daemon, sink[0]
    await eventually(lambda: site.hits >= 2)
    assert await _shop(h) == "operational"
    site.code = 503
    await eventually(lambda: _is(h, "major_outage"))
    await eventually(lambda: _has_draft(h))
    [draft] = await _drafts(h)
    assert draft["components"] == {"shop": "major_outage"} and draft["created_by"] == "probe"
    assert "HTTP 503" in str(draft["updates"][0]["body"])  # type: ignore[index]
    assert draft["updates"][0]["message_id"] is None  # type: ignore[index]
    status, listed = await h.request("GET", "/api/v1/messages", role="viewer")
    assert status == 200 and listed["items"] == []  # nothing posted for a draft
    code, data = await h.request("POST", f"/api/v1/incidents/{draft['id']}/updates", json={"state": "identified", "body": "x"})  # fmt: skip
    assert code == 409 and "draft" in data["detail"]

    code, published = await h.request(
        "POST", f"/api/v1/incidents/{draft['id']}/publish", role="publisher"
    )
    assert code == 200, published
    assert not published["draft"] and published["thread_message_id"]
    await h.wait_state(published["thread_message_id"], "delivered")
    assert len(mails.received) == 1
    text = mails.received[0].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("[Investigating] Shop is not responding: Our monitoring cannot reach Shop")  # fmt: skip
    code, again = await h.request("POST", f"/api/v1/incidents/{draft['id']}/publish")
    assert code == 409  # confirmed once, posted once


async def test_a_recovery_before_confirmation_closes_the_draft_unposted(
    daemon: Harness, site: Website, sink: tuple[Sink, int]
) -> None:
    h = daemon
    site.code = 500
    await eventually(lambda: _has_draft(h))
    site.code = 200
    await eventually(lambda: _is(h, "operational"))
    await eventually(lambda: _no_draft(h))
    status, body = await h.request("GET", "/api/v1/incidents?active=false", role="viewer")
    [closed] = body["items"]
    assert closed["draft"] and closed["state"] == "resolved"
    assert all(u["message_id"] is None for u in closed["updates"])
    assert sink[0].received == []
    history = await h.daemon.store.component_history(datetime(2000, 1, 1, tzinfo=UTC))
    assert [c.status for c in history if c.component_id == "shop"][-2:] == ["major_outage", "operational"]  # fmt: skip


async def _is(h: Harness, status: str) -> bool:
    return await _shop(h) == status


async def _has_draft(h: Harness) -> bool:
    return bool(await _drafts(h))


async def _no_draft(h: Harness) -> bool:
    status, body = await h.request("GET", "/api/v1/incidents?active=true", role="viewer")
    return status == 200 and body["items"] == []


async def test_a_restarted_daemon_still_gives_back_what_a_probe_took(
    tmp_path: Path, sink: tuple[Sink, int], site: Website
) -> None:
    path = probed_config(tmp_path, sink[1], site)
    site.code = 503
    h = await start_daemon(path)
    try:
        await eventually(lambda: _is(h, "major_outage"))
    finally:
        await h.daemon.stop()
    site.code = 200
    again = await start_daemon(path, tokens=h.tokens)
    try:
        await eventually(lambda: _is(again, "operational"))  # counted afresh, known from history
    finally:
        await again.daemon.stop()
