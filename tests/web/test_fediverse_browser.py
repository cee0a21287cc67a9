"""The fediverse pages in real headless Chromium on a phone's width (390 px): approve a
follow request by its button, read the per-inbox ledger, and a post's public page."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.harness import Harness, eventually
from tests.peers.mastodon_ap import MastodonAP
from tests.web.fediverse_fixtures import fedi_masto, fedi_web  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow
PHONE = {"width": 390, "height": 844}


async def fits(page: Page, within: str = "body") -> None:
    """Nothing in ``within`` reaches past a phone's width."""
    wide = await page.evaluate(
        f"[...document.querySelectorAll('{within}, {within} *')]"
        ".filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)"
        ".map(e => e.tagName + '.' + e.className).slice(0, 8)"
    )
    assert wide == []


async def test_approve_on_a_phone_and_read_the_ledger(
    web: Harness, masto: MastodonAP, browser: Browser, tmp_path: Path
) -> None:
    me = f"{web.url}/users/status"
    await masto.send("alice", f"{web.url}/inbox", masto.follow("alice", me))
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    await page.goto(web.url + "/ui/")
    await page.get_by_label("API token").fill(web.tokens["operator"])
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#fediverse")).to_contain_text("1 awaiting approval")
    await page.locator("#fediverse a").click()
    await expect(page.get_by_role("heading", name="Follow requests")).to_be_visible()
    await fits(page)
    await page.screenshot(path=str(tmp_path / "fediverse.png"), full_page=True)
    await page.get_by_role("button", name="approve").click()
    await expect(page.locator("#ap-summary")).to_contain_text("1 followers")
    await eventually(lambda: len(masto.delivered("Accept")) == 1)

    m = await web.post(text="A long update for everyone: " + "checkout-service-eu-west " * 6)
    await web.wait_state(m["id"], "delivered")
    await eventually(lambda: len(masto.delivered("Create")) == 1)
    await page.goto(web.url + f"/ui/messages/{m['id']}")
    await page.locator("#fediverse-ledger summary").click()
    await expect(page.locator("#fediverse-ledger")).to_contain_text("1 reached")
    await fits(page, "#fediverse-ledger")  # (the channel table above it is not ours)
    await page.goto(f"{me}/posts/{m['id']}")
    await expect(page.locator("article")).to_contain_text("A long update for everyone")
    await fits(page)
    await context.close()
