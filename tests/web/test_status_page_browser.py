"""The public status page in real Chromium on a laptop (1280 px) and a phone (390 px): the
active incident and the overall status are visible, nothing scrolls sideways, landmarks and
headings are there, and it reads the same without JavaScript."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.harness import Harness, start_daemon, write_config
from tests.status_seed import ACTIVE_TITLE, MAINTENANCE_TITLE, RESOLVED_TITLE, seed_demo

pytestmark = pytest.mark.slow

CONFIG = """
[channels.status]
type = "feed"
title = "Acme status"
description = "Is Acme up? Incidents, maintenance and news."

[routes.default]
tiers = [["status"]]
"""


@pytest.fixture
async def page_daemon(tmp_path: Path) -> AsyncIterator[Harness]:
    h = await start_daemon(write_config(tmp_path, CONFIG))
    await seed_demo(h.daemon.store, h.daemon.clock.now())
    yield h
    await h.daemon.stop()


async def fits(page: Page) -> None:
    sizes = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1], sizes


@pytest.mark.parametrize("width", [1280, 390])
async def test_the_status_page_fits_and_shows_the_incident(
    page_daemon: Harness, browser: Browser, width: int
) -> None:
    context = await browser.new_context(viewport={"width": width, "height": 900})
    page = await context.new_page()
    await page.goto(page_daemon.url + "/status/")
    await page.wait_for_load_state("networkidle")
    await fits(page)
    await expect(page.get_by_role("heading", name="Active incidents")).to_be_visible()
    incident = page.get_by_role("link", name=ACTIVE_TITLE)
    await expect(incident).to_be_visible()
    await expect(page.get_by_text("Partial System Outage")).to_be_visible()
    await expect(page.get_by_role("heading", name="Upcoming maintenance")).to_be_visible()
    await expect(page.get_by_text(MAINTENANCE_TITLE)).to_be_visible()
    for role in ("banner", "main", "contentinfo"):
        await expect(page.get_by_role(role)).to_have_count(1)
    bars = page.get_by_role("img", name="Public API: ")
    label = re.compile(r"^Public API: \d{1,3}\.\d\d% uptime over the last 90 days$")
    await expect(bars).to_have_attribute("aria-label", label)
    await expect(page.locator("#component-api")).to_contain_text("Partial outage")  # in words

    await incident.click()  # the permalink, with the whole timeline
    await expect(page.get_by_role("heading", level=2, name=ACTIVE_TITLE)).to_be_visible()
    await expect(page.get_by_text("A bad deploy; we are rolling it back.")).to_be_visible()
    await fits(page)
    await page.get_by_role("link", name="History", exact=True).click()
    await expect(page.get_by_role("link", name=RESOLVED_TITLE)).to_be_visible()
    await fits(page)
    await context.close()


async def test_the_page_needs_no_javascript(page_daemon: Harness, browser: Browser) -> None:
    context = await browser.new_context(viewport={"width": 390, "height": 844},
                                        java_script_enabled=False)  # fmt: skip
    page = await context.new_page()
    await page.goto(page_daemon.url + "/status/")
    await expect(page.get_by_role("link", name=ACTIVE_TITLE)).to_be_visible()
    await expect(page.get_by_text("A bad deploy; we are rolling it back.")).to_be_visible()
    await fits(page)
    await context.close()
