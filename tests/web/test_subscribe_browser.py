"""A reader subscribes on a phone (headless Chromium, 390 px): fills the form, opens the link
from the confirmation mail aiosmtpd received, confirms, receives an update with RFC 8058
headers, and a one-click POST to the header's URL stops the next one."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from tests.harness import Harness, eventually, start_daemon, write_config
from tests.integration.test_subscribers import config, confirm_link, mails_to, publish
from tests.peers.smtp_server import Sink, smtp_server

pytestmark = pytest.mark.slow
ADDRESS = "reader@example.com"


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[tuple[Harness, Sink]]:
    sink = Sink()
    with smtp_server(sink) as port:
        h = await start_daemon(write_config(tmp_path, config(port)))
        yield h, sink
        await h.daemon.stop()


async def test_subscribe_confirm_receive_and_unsubscribe_on_a_phone(
    daemon: tuple[Harness, Sink], browser: Browser
) -> None:
    h, sink = daemon
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await page.goto(h.url + "/status/subscribe")
    await page.get_by_label("Email address").fill(ADDRESS)
    await page.get_by_role("button", name="Subscribe").click()
    await expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing overflows a phone's width

    await eventually(lambda: len(mails_to(sink, ADDRESS)) == 1)
    await page.goto(confirm_link(mails_to(sink, ADDRESS)[0]))
    await page.get_by_role("button", name="Confirm subscription").click()
    await expect(page.get_by_role("heading", name="You are subscribed")).to_be_visible()
    await context.close()

    await publish(h, "Investigating: logins fail for some customers")
    update = mails_to(sink, ADDRESS)[-1].message
    assert "logins fail" in str(update.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert update["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    found = re.fullmatch(r"<(http://\S+/status/unsubscribe/\S+)>", update["List-Unsubscribe"])
    assert found is not None
    # What a mail provider does (RFC 8058): one POST, no cookie, no page.
    async with aiohttp.ClientSession() as s, s.post(
        found.group(1), data=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ) as r:  # fmt: skip
        assert r.status == 200
    copies = len(mails_to(sink, ADDRESS))
    await publish(h, "Resolved: logins work again")
    assert len(mails_to(sink, ADDRESS)) == copies
