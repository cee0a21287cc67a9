"""The web UI in real headless Chromium (Debian's package, driven by Playwright): log in, compose
with an image and alt text, see the per-channel preview, schedule, watch it delivered, force the
primary down and see the next post rerouted; the public page needs no login.

Screenshots go to a temporary directory, or to ``$FAILOVER_SCREENSHOTS`` (the README's come
from ``FAILOVER_SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/web/test_browser.py``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Locator, Page, expect

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
    await expect(row.locator(".health")).to_have_text("not checked yet")  # no probe, no send yet

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
    await expect(accepted).to_contain_text("Accepted for Mastodon, Status page")
    await expect(accepted).to_contain_text("skipped Webhook")
    assert not any(r.body["text"] == "Posting while the primary is down." for r in hook.delivered())
    assert masto.state.statuses[-1]["text"] == "Posting while the primary is down."

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
    await anonymous.close()


# -- every page on a phone and a laptop -------------------------------------------------------

LONG_WORD = "https://example.com/" + "incident-" * 40  # one 380-character "word"
LONG_TEXT = (
    "Checkout is failing for some card payments in the EU region; we are rolling back. "
    + LONG_WORD
    + " "
    + " ".join(f"Detail {i} of what we know." for i in range(30))
)


@pytest.fixture
async def angry() -> AsyncIterator[str]:
    """A webhook receiver that refuses everything with a long, unbroken error body."""
    from aiohttp import web as aioweb

    async def refuse(request: aioweb.Request) -> aioweb.Response:
        return aioweb.Response(status=400, text="invalid_payload:" + "x" * 600)

    app = aioweb.Application()
    app.router.add_post("/hook", refuse)
    runner = aioweb.AppRunner(app)
    await runner.setup()
    site = aioweb.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def layout_config(angry: str) -> str:
    return f"""
    [ui]
    time_zone = "Europe/Berlin"

    [channels.x]
    type = "x"
    consumer_key = "${{X_KEY_NOT_SET_3f1}}"
    consumer_secret = "${{X_SECRET_NOT_SET_3f1}}"
    access_token = "${{X_TOKEN_NOT_SET_3f1}}"
    access_token_secret = "${{X_TOKEN_SECRET_NOT_SET_3f1}}"

    [channels.ops]
    type = "webhook"
    display_name = "Operations webhook for the on-call team"
    url = "{angry}/hook"
    retry = {{ max_attempts = 1 }}

    [channels.status]
    type = "feed"
    title = "Acme status"

    [routes.default]
    tiers = [["x"], ["ops"], ["status"]]
    """


PAGES = ["/ui/", "/ui/compose", "/ui/messages/{sent}", "/ui/messages/{later}", "/ui/scheduled",
         "/ui/calendar?view=month&date={day}", "/ui/calendar?view=week&date={day}", "/ui/tokens",
         "/status/"]  # fmt: skip


async def test_every_page_fits_a_phone_and_a_laptop_with_long_texts_and_errors(
    tmp_path: Path, browser: Browser, angry: str, shots: Path
) -> None:
    from tests.harness import start_daemon, write_config

    h = await start_daemon(write_config(tmp_path, layout_config(angry)))
    try:
        sent = await h.post(text=LONG_TEXT, title="Checkout incident " + LONG_WORD[:60])
        done = await h.wait_message(
            sent["id"], lambda m: {d["channel"]: d["state"] for d in m["deliveries"]}.get("status")
            == "delivered",
        )  # fmt: skip
        ops = next(d for d in done["deliveries"] if d["channel"] == "ops")
        assert len(ops["last_error"]) > 200  # the long error is on the page
        later = datetime.now(UTC) + timedelta(days=2)
        scheduled = await h.post(text=LONG_TEXT, scheduled_at=later.isoformat())
        status, _ = await h.request(
            "POST", "/api/v1/tokens", json={"name": "laptop-" + "y" * 90, "role": "viewer"}
        )
        ids = {"sent": sent["id"], "later": scheduled["id"], "day": f"{later:%Y-%m-%d}"}
        for width in (390, 1366):
            context = await browser.new_context(
                viewport={"width": width, "height": 900}, timezone_id="America/New_York"
            )
            page = await context.new_page()
            await log_in(page, h.url, h.tokens["admin"])
            for path in PAGES:
                await page.goto(h.url + path.format(**ids))
                await page.wait_for_load_state("networkidle")
                sizes = await page.evaluate(
                    "[document.documentElement.scrollWidth, window.innerWidth]"
                )
                assert sizes[0] <= sizes[1], (path, width, sizes)
                if path == "/status/":  # each time in UTC, named, and the reader's own beside it
                    item = page.locator("article").first
                    await expect(item.locator("time")).to_contain_text(" UTC")
                    await expect(item.locator(".local")).to_contain_text("your time:")
                    await expect(item.locator(".local")).to_contain_text("EST")
                name = path.split("&")[0].strip("/").replace("/", "-").replace("ui-", "")
                name = name.replace("calendar?view=", "calendar-") or "dashboard"
                name = {"ui": "dashboard", "status": "status-page"}.get(name, name)
                name = name.replace("{sent}", "sent").replace("{later}", "scheduled")
                await page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
            # The compose page with an error, and its preview before the Send button.
            await page.goto(h.url + "/ui/compose")
            await page.get_by_label("Text", exact=True).fill(LONG_TEXT)
            await page.get_by_label("Link").fill("not a link " + LONG_WORD)
            await expect(
                page.locator('.preview-card[data-channel="x"] .not-connected')
            ).to_have_text("X is not connected; this is how it would look.")
            preview = await page.locator("#preview").bounding_box()
            send = await page.get_by_role("button", name="Send").bounding_box()
            assert preview is not None and send is not None and preview["y"] < send["y"]
            await page.evaluate("document.getElementById('link').type = 'text'")
            await page.get_by_role("button", name="Send").click()
            await expect(page.locator("#form-error")).to_contain_text("link:")
            sizes = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert sizes[0] <= sizes[1], ("compose with an error", width, sizes)
            await page.screenshot(path=str(shots / f"compose-error-{width}.png"), full_page=True)
            if width == 390:
                # No column is hidden on a phone: the message text is there on the dashboard.
                await page.goto(h.url + "/ui/")
                await expect(page.locator(f"#message-{sent['id']} td.text")).to_be_visible()
                # Times are in the reader's zone, with its name.
                await expect(page.locator(f"#message-{scheduled['id']} time")).to_contain_text(
                    later.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%d %H:%M EST")
                )
            await context.close()
    finally:
        await h.daemon.stop()


async def test_dark_mode_follows_the_system(web: Harness, browser: Browser, shots: Path) -> None:
    context = await browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    page = await context.new_page()
    await log_in(page, web.url, web.tokens["publisher"])
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(13, 17, 23)", background
    await page.screenshot(path=str(shots / "dashboard-dark-390.png"), full_page=True)
    await context.close()


PLATFORMS = """
[channels.x]
type = "x"
consumer_key = "${X_KEY_NOT_SET_9c2}"
consumer_secret = "${X_SECRET_NOT_SET_9c2}"
access_token = "${X_TOKEN_NOT_SET_9c2}"
access_token_secret = "${X_TOKEN_SECRET_NOT_SET_9c2}"

[channels.masto]
type = "mastodon"
api_base_url = "https://mastodon.example"
access_token = "${MASTO_NOT_SET_9c2}"

[channels.sky]
type = "bluesky"
handle = "acme.example"
app_password = "${SKY_NOT_SET_9c2}"

[channels.mail]
type = "email"
host = "smtp.example"
from_address = "status@example.com"
recipients = ["ops@example.com"]
password = "${MAIL_NOT_SET_9c2}"

[channels.team]
type = "slack"
token = "${SLACK_NOT_SET_9c2}"
channel = "#status"

[channels.status]
type = "feed"

[routes.default]
mode = "broadcast"
tiers = [["x", "masto", "sky", "mail", "team", "status"]]
"""


async def test_previews_look_like_each_platform_even_when_not_connected(
    tmp_path: Path, browser: Browser, shots: Path
) -> None:
    from tests.harness import start_daemon, write_config

    h = await start_daemon(write_config(tmp_path, PLATFORMS))
    try:
        page = await browser.new_page(viewport={"width": 390, "height": 900})
        await log_in(page, h.url, h.tokens["publisher"])
        await page.goto(h.url + "/ui/compose")
        text = "Checkout is down in the EU. Details: https://status.example.com/i/42 #outage " + (
            " ".join(f"Update {i}: still investigating." for i in range(12))
        )
        await page.get_by_label("Title").fill("Checkout incident")
        await page.get_by_label("Text", exact=True).fill(text)
        await page.get_by_label("Content warning").fill("payments outage")
        image = tmp_path / "chart.png"
        image.write_bytes(PNG)
        await page.get_by_label("File (PNG, JPEG, GIF, WebP)").set_input_files(str(image))
        await page.get_by_label("Alt text").fill("Error rate chart")

        def card(name: str) -> Locator:
            return page.locator(f'.preview-card[data-channel="{name}"]')

        # Every card says the channel is not connected, and still shows the post.
        for name, label in [("x", "X"), ("masto", "Mastodon"), ("sky", "Bluesky"),
                            ("mail", "Email"), ("team", "Slack")]:  # fmt: skip
            await expect(card(name).locator(".not-connected")).to_have_text(
                f"{label} is not connected; this is how it would look."
            )
            await expect(card(name).locator("h3")).to_have_text(label)
        # X: a thread, each post numbered with its 280 counter.
        await expect(card("x").locator(".verdict")).to_contain_text("thread of")
        await expect(card("masto").locator(".alt-badge")).to_have_count(1)  # the image is in
        tweets = card("x").locator(".tweet")
        n = await tweets.count()
        assert n >= 2
        for i in range(n):
            counter = await tweets.nth(i).locator(".counter").inner_text()
            done, length = counter.split(" · ")
            assert done == f"{i + 1}/{n}" and int(length.split("/")[0]) <= 280
            assert length.endswith("/280")
        await expect(tweets.first.locator("img")).to_have_attribute("alt", "Error rate chart")
        # Mastodon: behind its content warning, with the image's alt text marked.
        toot = card("masto").locator(".toot").first
        await expect(toot.locator("details.cw summary")).to_contain_text("CW: payments outage")
        await expect(toot.locator(".alt-badge")).to_have_attribute("title", "Error rate chart")
        # Bluesky: the link and the tag are facets.
        sky = card("sky").locator(".skeet").first
        await expect(sky.locator("a.facet.link")).to_have_attribute(
            "href", "https://status.example.com/i/42"
        )
        await expect(sky.locator("a.facet.tag")).to_have_text("#outage")
        # Email: subject and preheader; Slack: title and text; status page: the item.
        await expect(card("mail").locator(".subject")).to_have_text("Checkout incident")
        await expect(card("mail").locator(".preheader")).to_contain_text("Checkout is down")
        await expect(card("team").locator(".slack-msg strong.title")).to_have_text(
            "Checkout incident"
        )
        await expect(card("status").locator(".status-item h4")).to_have_text("Checkout incident")
        await expect(card("status").locator(".not-connected")).to_have_count(0)
        sizes = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert sizes[0] <= sizes[1]
        await page.screenshot(path=str(shots / "compose-previews-390.png"), full_page=True)
    finally:
        await h.daemon.stop()


async def test_drag_a_message_to_another_day_in_the_week_view(
    web: Harness, browser: Browser, shots: Path
) -> None:
    today = datetime.now(UTC).date()
    monday = today + timedelta(days=7 - today.weekday())
    at = datetime(monday.year, monday.month, monday.day, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    m = await web.post(text="Campaign kick-off", scheduled_at=at.isoformat(), route="fediverse")
    page = await browser.new_page(viewport={"width": 1366, "height": 900})
    await log_in(page, web.url, web.tokens["publisher"])
    await page.goto(web.url + f"/ui/calendar?view=week&date={monday}&tz=Europe/Berlin")
    entry = page.locator(f'.entry[data-id="{m["id"]}"]')
    await expect(entry).to_contain_text("09:00 CET Campaign kick-off")
    thursday = monday + timedelta(days=3)
    await entry.drag_to(page.locator(f'td[data-date="{thursday}"]'))
    await expect(
        page.locator(f'td[data-date="{thursday}"] .entry[data-id="{m["id"]}"]')
    ).to_be_visible()
    moved = await web.message(m["id"])
    assert moved["scheduled_at"] == (at + timedelta(days=3)).astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    await page.screenshot(path=str(shots / "calendar-week-moved-1366.png"), full_page=True)
    # Into the past: refused, said on the page, nothing moved.
    soon = datetime.now(UTC) + timedelta(hours=1)
    later = await web.post(text="Later today", scheduled_at=soon.isoformat())
    day = soon.astimezone(ZoneInfo("Europe/Berlin")).date()
    if day.weekday() > 0:  # the day before is in the same week
        await page.goto(web.url + f"/ui/calendar?view=week&date={day}&tz=Europe/Berlin")
        await page.locator(f'.entry[data-id="{later["id"]}"]').drag_to(
            page.locator(f'td[data-date="{day - timedelta(days=1)}"]')
        )
        await expect(page.locator("#calendar-error")).to_contain_text(
            f"Message {later['id']} was not moved: scheduled_at: is"
        )
        assert (await web.message(later["id"]))["scheduled_at"] == later["scheduled_at"]
