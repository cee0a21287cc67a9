"""The public page's banner in real Chromium, on a 390-px screen: no claim while the primary
is unknown, "operating normally" only once it is known up, an outage when it is down; always
the platform's display name, never the config key."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.harness import Harness

pytestmark = pytest.mark.slow


async def test_banner_claims_only_what_is_known(web: Harness, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    banner = page.locator("#state")
    label = web.daemon.config.channels["hook"].label
    assert label != "hook"

    await page.goto(web.url + "/status/")  # never probed, never used: unknown
    await expect(page.get_by_text("No announcements yet.")).to_be_visible()
    await page.wait_for_load_state("networkidle")
    await expect(banner).to_be_hidden()

    m = await web.post(text="hello")  # a post goes through: the primary is known up
    await web.wait_state(m["id"], "delivered")
    await page.reload()
    await expect(banner).to_have_text(f"{label}: operating normally.")

    await web.request("POST", "/api/v1/channels/hook/force", role="operator",
                      json={"state": "down"})  # fmt: skip
    await page.reload()
    await expect(banner).to_contain_text(f"{label} is unavailable since")
    assert not re.search(r"\bhook\b", await banner.text_content() or "")  # the key
    await page.close()
