"""The web UI in real headless Chromium (Debian's package, driven by Playwright): log in, compose
with an image and alt text, see the per-channel preview, schedule, watch it delivered, force the
primary down and see the next post rerouted; the public page needs no login.

Screenshots go to a temporary directory, or to ``$FAILOVER_SCREENSHOTS`` (the README's come
from ``FAILOVER_SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/web/test_browser.py``).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.harness import Harness
from tests.peers.mastodon_api import MastodonPeer
from tests.peers.samples import PNG
from tests.peers.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.slow


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    target = Path(os.environ.get("FAILOVER_SCREENSHOTS") or tmp_path / "shots")
    target.mkdir(parents=True, exist_ok=True)
    return target


async def log_in(page: Page, url: str, token: str) -> None:
    await page.goto(url + "/ui/")
    await expect(page).to_have_url(url + "/ui/login?next=/ui/")
    await page.get_by_label("API token").fill(token)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Channels")).to_be_visible()


async def test_compose_schedule_deliver_force_and_reroute(
    web: Harness,
    browser: Browser,
    masto: MastodonPeer,
    hook: WebhookReceiver,
    tmp_path: Path,
    shots: Path,
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await log_in(page, web.url, web.tokens["operator"])

    # Compose: a long text on the broadcast route, an image with alt text, in two seconds.
    await page.get_by_role("link", name="Compose").click()
    await page.get_by_label("Route").select_option("fediverse")
    text = "Our service is back. " + " ".join(f"Detail {i} of the incident." for i in range(40))
    await page.get_by_label("Text", exact=True).fill(text)
    image = tmp_path / "chart.png"
    image.write_bytes(PNG)
    await page.get_by_label("File (PNG, JPEG, GIF, WebP)").set_input_files(str(image))
    await page.get_by_label("Alt text").fill("Error rate chart, back to zero at 14:05")

    # The preview fits the text per channel: a thread on Mastodon (500), one item on the feed.
    masto_card = page.locator('.preview-card[data-channel="masto"]')
    await expect(masto_card.locator(".verdict")).to_contain_text("thread of")
    await expect(masto_card.locator(".verdict")).to_contain_text(f"{len(text)}/500")
    posts = await masto_card.locator("pre.post").all_inner_texts()
    assert len(posts) >= 2 and all(len(p) <= 500 for p in posts)
    await expect(page.locator('.preview-card[data-channel="status"] .verdict')).to_have_text("fits")
    await page.screenshot(path=str(shots / "compose.png"), full_page=True)

    when = datetime.now(UTC) + timedelta(seconds=3)
    await page.get_by_label("Time zone").select_option("UTC")
    await page.get_by_label("Send at").fill(when.strftime("%Y-%m-%dT%H:%M:%S"))
    await page.get_by_role("button", name="Send").click()

    # The message page first says scheduled, then (refreshing itself) delivered.
    await expect(page.locator("#message-state")).to_have_text("scheduled")
    await expect(page.locator("#message-state")).to_have_text("delivered", timeout=20_000)
    link = page.locator('tr[data-channel="masto"] a', has_text="view post")
    assert (await link.get_attribute("href") or "").startswith(masto.url)
    first = masto.state.statuses[0]
    assert len(masto.state.statuses) == len(posts)  # the thread, as previewed
    described = [masto.state.media[m]["description"] for m in first["media_ids"]]
    assert described == ["Error rate chart, back to zero at 14:05"]

    # Scheduled page lists nothing now; the dashboard shows the message delivered.
    await page.get_by_role("link", name="Dashboard").click()
    row = page.locator("tr#channel-hook")
    await expect(row.locator(".health")).to_have_text("unknown")  # no probe, nothing sent yet

    # Force the primary (hook) down from the dashboard.
    await row.locator('button[data-state="down"]').click()
    await expect(row).to_contain_text("forced down")

    # The next post on the default route goes to the fallback tier, and the timeline says so.
    await page.get_by_role("link", name="Compose").click()
    await page.get_by_label("Route").select_option("default")
    await page.get_by_label("Text", exact=True).fill("Posting while the primary is down.")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#message-state")).to_have_text("delivered", timeout=20_000)
    message_id = page.url.rsplit("/", 1)[1]
    await page.get_by_role("link", name="Dashboard").click()
    accepted = page.locator(
        f'.timeline li[data-kind="message.accepted"][data-message="{message_id}"]'
    )
    await expect(accepted).to_contain_text("accepted for masto, status")
    await expect(accepted).to_contain_text("skipped hook")
    assert not any(r.body["text"] == "Posting while the primary is down." for r in hook.delivered())
    assert masto.state.statuses[-1]["text"] == "Posting while the primary is down."
    await page.screenshot(path=str(shots / "dashboard.png"), full_page=True)

    # The public page: no login, readable on a phone, says the primary is down.
    anonymous = await browser.new_context(viewport={"width": 390, "height": 844})
    public = await anonymous.new_page()
    response = await public.goto(web.url + "/status/")
    assert response is not None and response.status == 200
    await expect(public.locator("h1")).to_have_text("Acme status")
    await expect(public.locator("#state")).to_contain_text("hook is unavailable")
    await expect(public.locator("article").first).to_contain_text("Posting while the primary")
    await expect(public.get_by_role("link", name="Atom feed")).to_be_visible()
    width = await public.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing overflows a phone's width
    await public.screenshot(path=str(shots / "status-page.png"), full_page=True)
    await anonymous.close()
