"""The incident pages in real headless Chromium on a phone's width (390 px): open an incident
from the composer with a component, its preview showing the state prefix; post "Identified";
resolve; change a component's status in the editor; publish the draft a failing probe opened.
The posts are checked where they land (the webhook receiver), not only on the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.harness import Harness, eventually
from tests.integration.test_incident_probes import Website
from tests.peers.webhook_receiver import WebhookReceiver
from tests.web.incident_fixtures import hook_texts, incident_web, site  # noqa: F401 - fixtures
from tests.web.test_browser import shots  # noqa: F401 - fixture ($FAILOVER_SCREENSHOTS)
from tests.web.test_fediverse_browser import PHONE, fits

pytestmark = pytest.mark.slow
TAP = 44  # px: the smallest comfortable touch target
LONG_WORD = "checkout-service-eu-west-" * 8  # no space to break at


async def phone(browser: Browser, h: Harness) -> Page:
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    await page.goto(h.url + "/ui/incidents")
    await page.get_by_label("API token").fill(h.tokens["operator"])
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Incidents", exact=True)).to_be_visible()
    return page


async def big(page: Page, selector: str) -> None:
    box = await page.locator(selector).bounding_box()
    assert box is not None and box["height"] >= TAP, (selector, box)


async def test_open_update_resolve_on_a_phone(
    incident_web: Harness,  # noqa: F811
    hook: WebhookReceiver,
    browser: Browser,
    shots: Path,  # noqa: F811
) -> None:
    h = incident_web
    page = await phone(browser, h)
    await page.get_by_role("link", name="Open an incident").click()
    await page.get_by_label("Title").fill("Checkout errors")
    await page.get_by_label("Impact").select_option("major")
    await page.get_by_label("API").select_option("partial_outage")
    await page.get_by_label("What is happening").fill("Payments fail for some customers.")
    hook_card = page.locator('.preview-card[data-channel="hook"] pre.post')
    await expect(hook_card).to_have_text(
        "[Investigating] Checkout errors: Payments fail for some customers."
    )
    await page.get_by_label("State").select_option("identified")  # the prefix follows
    await expect(hook_card).to_contain_text("[Identified] Checkout errors")
    await page.get_by_label("State").select_option("investigating")
    await expect(hook_card).to_contain_text("[Investigating] Checkout errors")
    await fits(page)
    await big(page, "#send")
    await page.screenshot(path=str(shots / "incident-new-390.png"), full_page=True)
    await page.get_by_role("button", name="Open incident and post").click()

    await expect(page.locator("#incident-title")).to_have_text("Checkout errors")
    first = "[Investigating] Checkout errors: Payments fail for some customers."
    await eventually(lambda: first in hook_texts(hook))
    api = page.locator('#affected li[data-component="api"]')
    await expect(api).to_contain_text("partial outage")
    entry = page.locator("#updates li.update").first
    await expect(entry.locator('.delivery[data-channel="hook"]')).to_contain_text(
        "delivered", timeout=15_000
    )  # the page refreshes itself as the post goes out
    assert (await h.daemon.store.get_component("api")).status == "partial_outage"  # type: ignore[union-attr]
    incident_url = page.url

    await page.get_by_role("link", name="Incidents", exact=True).click()
    await expect(page.locator("#active")).to_contain_text("Checkout errors")
    await fits(page)
    await page.locator("#active a.incident-link", has_text="Checkout errors").click()
    assert page.url == incident_url

    await page.get_by_label("State").select_option("identified")
    await page.get_by_label("What is new").fill("A bad deploy; rolling back.")
    await expect(page.locator('.preview-card[data-channel="hook"] pre.post')).to_have_text(
        "[Identified] Checkout errors: A bad deploy; rolling back."
    )
    await fits(page)
    await page.get_by_role("button", name="Post update").click()
    await expect(page.locator("#updates li.update").first).to_have_attribute(
        "data-state", "identified"
    )
    await eventually(
        lambda: "[Identified] Checkout errors: A bad deploy; rolling back." in hook_texts(hook)
    )

    await big(page, "#resolve-button")
    await page.screenshot(path=str(shots / "incident-390.png"), full_page=True)
    await page.get_by_role("button", name="Resolve incident").click()
    await expect(page.locator("h1 .state")).to_have_text("resolved")
    await expect(page.locator("#post-update")).to_have_count(0)
    await eventually(
        lambda: "[Resolved] Checkout errors: This incident has been resolved." in hook_texts(hook)
    )
    assert (await h.daemon.store.get_component("api")).status == "operational"  # type: ignore[union-attr]
    await page.get_by_role("link", name="Incidents", exact=True).click()
    await expect(page.locator("#resolved")).to_contain_text("Checkout errors")
    await expect(page.locator("#active")).not_to_contain_text("Checkout errors")
    await page.screenshot(path=str(shots / "incidents-390.png"), full_page=True)


async def test_component_editor_on_a_phone(
    incident_web: Harness,  # noqa: F811
    browser: Browser,
    shots: Path,  # noqa: F811
) -> None:
    h = incident_web
    page = await phone(browser, h)
    await page.get_by_role("link", name="Components").first.click()
    row = page.locator("li#component-web")
    await row.get_by_label("Status of Website").select_option("degraded_performance")
    await big(page, "li#component-web button")
    await row.get_by_role("button", name="Save").click()
    await expect(page.locator("li#component-web .saved-note")).to_have_text("Saved.")
    await page.reload()
    status = page.locator("li#component-web select")
    await expect(status).to_have_value("degraded_performance")
    await expect(page.locator("li#component-api select")).to_have_value("operational")
    saved = await h.daemon.store.get_component("web")
    assert saved is not None and saved.status == "degraded_performance"
    since = datetime.now(UTC) - timedelta(hours=1)
    changes = [c for c in await h.daemon.store.component_history(since) if c.component_id == "web"]
    assert changes[-1].status == "degraded_performance"
    assert changes[-1].source.startswith("operator:")

    await page.get_by_label("Id").fill("cdn")
    await page.get_by_label("Name", exact=True).fill("CDN")
    await page.get_by_role("button", name="Add component").click()
    await expect(page.locator("li#component-cdn")).to_contain_text("CDN")
    await fits(page)
    await page.screenshot(path=str(shots / "components-390.png"), full_page=True)

    # Long unbroken names wrap on every page that shows them, even in a select's label.
    await page.get_by_label("Id").fill("long")
    await page.get_by_label("Name", exact=True).fill(LONG_WORD)
    await page.get_by_label("Group").fill(LONG_WORD)
    await page.get_by_role("button", name="Add component").click()
    await expect(page.locator("li#component-long")).to_be_visible()
    await fits(page)
    await page.goto(h.url + "/ui/incidents/new")
    await page.get_by_label("Title").fill(LONG_WORD)
    await page.get_by_label(LONG_WORD[:40]).select_option("major_outage")
    await page.get_by_label("What is happening").fill(LONG_WORD)
    await expect(page.locator('.preview-card[data-channel="hook"] pre.post')).to_contain_text(
        LONG_WORD
    )
    await fits(page)
    await page.get_by_role("button", name="Open incident and post").click()
    await expect(page.locator("#incident-title")).to_have_text(LONG_WORD)
    await fits(page)
    await page.goto(h.url + "/ui/incidents")
    await fits(page)


async def test_publish_the_draft_a_probe_opened(
    incident_web: Harness,  # noqa: F811
    site: Website,  # noqa: F811
    hook: WebhookReceiver,
    browser: Browser,
) -> None:
    h = incident_web
    page = await phone(browser, h)
    site.code = 503
    drafts = []

    async def drafted() -> bool:
        drafts[:] = await h.daemon.store.list_incidents(active=True, include_drafts=True)
        return bool(drafts) and drafts[0].draft

    await eventually(drafted)
    assert not any("Shop" in t for t in hook_texts(hook))  # a draft posts nothing
    await page.reload()
    row = page.locator(f"#incident-{drafts[0].id}")
    await expect(row.locator(".state")).to_have_text("draft")
    await fits(page)
    await big(page, f'button[data-publish="{drafts[0].id}"]')
    await row.get_by_role("button", name="Publish").click()
    await expect(page.locator("h1 .state")).to_have_text("investigating")
    await eventually(lambda: any(t.startswith("[Investigating] Shop") for t in hook_texts(hook)))
    published = await h.daemon.store.get_incident(drafts[0].id)
    assert published is not None and not published.draft
    await expect(page.locator("#updates li.update").first.locator("a")).to_have_attribute(
        "href", f"/ui/messages/{published.updates[-1].message_id}"
    )


async def test_schedule_maintenance_on_a_phone(
    incident_web: Harness,  # noqa: F811
    hook: WebhookReceiver,
    browser: Browser,
    shots: Path,  # noqa: F811
) -> None:
    h = incident_web
    page = await phone(browser, h)
    await page.get_by_role("link", name="Schedule maintenance").click()
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=3)
    await page.get_by_label("Title").fill("Database upgrade")
    await page.get_by_label("What will happen").fill("Read-only for 30 minutes.")
    await page.get_by_label("Starts", exact=True).fill(f"{start:%Y-%m-%dT%H:%M}")
    await page.get_by_label("Ends", exact=True).fill(
        f"{start + timedelta(minutes=30):%Y-%m-%dT%H:%M}"
    )
    await page.get_by_label("Time zone").select_option("UTC")
    await page.get_by_label("API").check()
    await page.get_by_label("Reminder before it starts").fill("1h")
    await page.get_by_label("Complete by itself").check()
    await expect(page.locator('.preview-card[data-channel="hook"] pre.post')).to_have_text(
        "[Scheduled] Database upgrade: Read-only for 30 minutes."
    )
    await fits(page)
    await page.screenshot(path=str(shots / "maintenance-new-390.png"), full_page=True)
    await page.get_by_role("button", name="Schedule and post").click()
    await expect(page.locator("p.window")).to_contain_text(f"{start:%Y-%m-%d %H:%M}")
    await expect(page.locator("p.window")).to_contain_text("reminder 60 min before")
    await eventually(
        lambda: "[Scheduled] Database upgrade: Read-only for 30 minutes." in hook_texts(hook)
    )
    await fits(page)
    await page.screenshot(path=str(shots / "maintenance-390.png"), full_page=True)
    await page.get_by_role("link", name="All incidents").click()
    await expect(page.locator("#maintenance")).to_contain_text("Database upgrade")
    await expect(page.locator("#maintenance")).to_contain_text(f"{start:%Y-%m-%d %H:%M}")
    made = (await h.daemon.store.list_incidents("maintenance"))[0]
    assert made.scheduled_for == start and made.auto_complete and not made.auto_start
