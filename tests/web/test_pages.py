"""The web forms, driven as a browser would post them: every message field the API takes that
people need, edits before sending, and bad input that comes back with nothing lost."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

from tests.harness import Harness, start_daemon, write_config
from tests.peers.mastodon_api import MastodonPeer
from tests.web.web_session import login


async def test_compose_with_overrides_expiry_thread_and_time_zone(web: Harness) -> None:
    first = await web.post(text="The incident starts", route="fediverse")
    s, csrf = await login(web.url, web.tokens["publisher"])
    # 09:30 in Tokyo (UTC+9, no DST) is 00:30 UTC.
    day = (datetime.now(UTC) + timedelta(days=2)).date()
    form = {
        "csrf": csrf, "route": "fediverse", "text": "Update for everyone",
        "override.masto": "Update, short for Mastodon", "thread": f"#{first['id']}",
        "scheduled_at": f"{day}T09:30", "expires_at": f"{day}T18:00", "tz": "Asia/Tokyo",
    }  # fmt: skip
    async with s, s.post(web.url + "/ui/compose", data=form) as r:
        assert r.status == 200 and re.fullmatch(r"/ui/messages/\d+", r.url.path), r.url
        message_id = int(r.url.path.rsplit("/", 1)[1])
    m = await web.message(message_id)
    assert m["overrides"] == {"masto": "Update, short for Mastodon"}
    assert m["thread"] == first["id"]
    assert m["scheduled_at"] == f"{day}T00:30:00Z"
    assert m["expires_at"] == f"{day}T09:00:00Z"


async def test_bad_input_comes_back_filled_in_with_the_field_named(web: Harness) -> None:
    s, csrf = await login(web.url, web.tokens["publisher"])
    form = {"csrf": csrf, "route": "default", "text": "Keep me", "title": "Kept too",
            "link": "not a link", "tz": "UTC"}  # fmt: skip
    async with s, s.post(web.url + "/ui/compose", data=form) as r:
        html = await r.text()
    assert r.status == 422
    assert 'role="alert"' in html and "link:" in html
    assert ">Keep me</textarea>" in html and 'value="Kept too"' in html
    assert re.search(r'id="link"[^>]*aria-invalid="true"', html)
    _, listed = await web.request("GET", "/api/v1/messages")
    assert listed["items"] == []  # nothing stored


async def test_edit_a_scheduled_message_from_its_page(web: Harness) -> None:
    later = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    m = await web.post(text="Draft", scheduled_at=later.isoformat(), route="fediverse")
    s, csrf = await login(web.url, web.tokens["publisher"])
    async with s:
        async with s.get(web.url + f"/ui/messages/{m['id']}") as r:
            page = await r.text()
        assert 'id="edit"' in page and later.strftime("%Y-%m-%dT%H:%M:%S") in page
        form = {"csrf": csrf, "text": "Final", "title": "Now with a title",
                "scheduled_at": "", "tz": "UTC"}  # fmt: skip
        async with s.post(web.url + f"/ui/messages/{m['id']}/edit", data=form) as r:
            assert r.status == 200 and r.url.path == f"/ui/messages/{m['id']}"
        done = await web.wait_state(m["id"], "delivered")  # empty time: send now
        assert (done["text"], done["title"]) == ("Final", "Now with a title")
        async with s.get(web.url + f"/ui/messages/{m['id']}") as r:
            assert 'id="edit"' not in await r.text()  # sent: no longer editable
        async with s.post(web.url + f"/ui/messages/{m['id']}/edit", data=form) as r:
            assert r.status == 422 and "sending has started" in await r.text()


async def test_login_page_gives_the_exact_token_command_for_this_daemon(web: Harness) -> None:
    async with aiohttp.ClientSession() as s, s.get(web.url + "/ui/login") as r:
        html = await r.text()
    command = re.search(r'<code id="token-command">([^<]+)</code>', html)
    assert command is not None
    config = web.daemon.config.source
    assert config is not None
    assert command[1].endswith(f"token create --role publisher --name you -c {config}")


async def test_a_past_time_is_refused_unless_allowed_in_the_form_and_the_api(web: Harness) -> None:
    last_year = (datetime.now(UTC) - timedelta(days=365)).strftime("%Y-%m-%dT09:00")
    s, csrf = await login(web.url, web.tokens["publisher"])
    form = {"csrf": csrf, "route": "fediverse", "text": "Sale!", "scheduled_at": last_year,
            "tz": "UTC"}  # fmt: skip
    async with s:
        async with s.post(web.url + "/ui/compose", data=form) as r:
            html = await r.text()
        assert r.status == 422 and "scheduled_at: is 365 days in the past" in html
        assert re.search(r'id="scheduled_at"[^>]*aria-invalid="true"', html)
        assert ">Sale!</textarea>" in html  # nothing lost
        async with s.post(web.url + "/ui/compose", data={**form, "allow_past": "1"}) as r:
            assert r.status == 200 and re.fullmatch(r"/ui/messages/\d+", r.url.path)
    past = f"{last_year}:00Z"
    status, body = await web.request(
        "POST", "/api/v1/messages", role="publisher", json={"text": "x", "scheduled_at": past}
    )
    assert status == 422 and body["field"] == "scheduled_at"
    assert "allow_past" in body["detail"]
    status, _ = await web.request(
        "POST", "/api/v1/messages", role="publisher",
        json={"text": "x", "scheduled_at": past, "allow_past": True},
    )  # fmt: skip
    assert status == 201


async def test_pages_show_times_in_the_configured_zone_with_its_name(tmp_path: Path) -> None:
    config = write_config(tmp_path, TOKYO)
    h = await start_daemon(config)
    try:
        # 00:30 UTC about three days ahead, whatever the time of day: "in 3 days" rounds to the
        # nearest day, so the day is chosen to keep the distance within 2.5-3.5 days.
        now = datetime.now(UTC)
        ahead = 3 if (now.hour, now.minute) < (12, 15) else 4
        at = (now + timedelta(days=ahead)).replace(hour=0, minute=30, second=0, microsecond=0)
        m = await h.post(text="Tokyo morning", scheduled_at=at.isoformat())
        s, csrf = await login(h.url, h.tokens["publisher"])
        async with s:
            async with s.get(h.url + f"/ui/messages/{m['id']}") as r:
                page = await r.text()
            assert f"{at:%Y-%m-%d} 09:30 JST (in 3 days)</time>" in page
            assert f'datetime="{at:%Y-%m-%dT%H:%M:%S}+00:00"' in page
            async with s.get(h.url + "/ui/scheduled") as r:
                assert "09:30 JST</time>" in await r.text()
            async with s.get(h.url + "/ui/compose") as r:
                assert "<option selected>Asia/Tokyo</option>" in await r.text()
    finally:
        await h.daemon.stop()


TOKYO = """
[ui]
time_zone = "Asia/Tokyo"

[channels.status]
type = "feed"

[routes.default]
tiers = [["status"]]
"""


def next_monday(weeks_ahead: int = 1) -> datetime:
    today = datetime.now(UTC).date()
    monday = today + timedelta(days=7 * weeks_ahead - today.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)


async def test_calendar_moves_a_message_with_csrf_roles_and_the_same_validation(
    web: Harness,
) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    monday = next_monday().replace(tzinfo=berlin, hour=9)
    m = await web.post(text="Campaign kick-off", scheduled_at=monday.isoformat(), route="fediverse")
    month = f"/ui/calendar?view=month&date={monday:%Y-%m-%d}&tz=Europe/Berlin"

    viewer, _ = await login(web.url, web.tokens["viewer"])
    async with viewer:
        async with viewer.get(web.url + month) as r:
            html = await r.text()
        assert r.status == 200 and "Campaign kick-off" in html
        assert f'href="/ui/messages/{m["id"]}"' in html and "09:00 CE" in html
        assert "draggable" not in html and "/move" not in html  # a viewer cannot move
        async with viewer.get(web.url + "/ui/") as r:
            csrf_viewer = re.search(r'name="csrf-token" content="([^"]+)"', await r.text())
        assert csrf_viewer is not None
        form = {"csrf": csrf_viewer[1], "date": f"{monday:%Y-%m-%d}", "tz": "Europe/Berlin"}
        async with viewer.post(web.url + f"/ui/messages/{m['id']}/move", data=form) as r:
            assert r.status == 403

    s, csrf = await login(web.url, web.tokens["publisher"])
    async with s:
        async with s.get(web.url + month) as r:
            assert 'draggable="true"' in await r.text()
        wednesday = monday + timedelta(days=2)
        form = {"date": f"{wednesday:%Y-%m-%d}", "time": "14:30", "tz": "Europe/Berlin"}
        async with s.post(web.url + f"/ui/messages/{m['id']}/move", data=form) as r:
            assert r.status == 403  # no CSRF token
        async with s.post(
            web.url + f"/ui/messages/{m['id']}/move", data={**form, "csrf": csrf},
            headers={"Referer": web.url + month},
        ) as r:  # fmt: skip
            assert r.status == 200 and r.url.path == "/ui/calendar"
        moved = await web.message(m["id"])
        assert moved["scheduled_at"] == wednesday.replace(hour=14, minute=30).astimezone(
            UTC
        ).strftime("%Y-%m-%dT%H:%M:%SZ")
        # The same validation as the edit form: the past is refused, nothing changes.
        last_year = (datetime.now(UTC) - timedelta(days=365)).date()
        form = {"csrf": csrf, "date": f"{last_year}", "tz": "Europe/Berlin"}
        async with s.post(web.url + f"/ui/messages/{m['id']}/move", data=form) as r:
            html = await r.text()
        assert r.status == 422 and "was not moved: scheduled_at: is" in html
        async with s.post(
            web.url + f"/ui/messages/{m['id']}/move", data={**form, "date": "soon"},
            headers={"Accept": "application/json"},
        ) as r:  # fmt: skip
            assert r.status == 422
            assert (await r.json())["error"].endswith("date: is not a date like 2026-12-01")
        assert (await web.message(m["id"]))["scheduled_at"] == moved["scheduled_at"]


async def test_retract_from_the_message_page(web: Harness, masto: MastodonPeer) -> None:
    m = await web.post(text="Wrong price in this post", route="fediverse")
    await web.wait_state(m["id"], "delivered")
    assert masto.state.statuses
    s, csrf = await login(web.url, web.tokens["publisher"])
    async with s:
        async with s.post(web.url + f"/ui/messages/{m['id']}/retract", data={"csrf": csrf}) as r:
            page = await r.text()
        assert r.status == 200 and r.url.path == f"/ui/messages/{m['id']}"
    assert masto.state.statuses == []
    assert "Taken down from Mastodon" in page and "Taken down from Status page" in page
    assert 'id="retract"' not in page


async def test_api_and_form_errors_are_words_not_patterns(web: Harness) -> None:
    cases = [
        ({"text": "x", "link": "not a link"},
         "link: must be a web address starting with https:// or http://, without spaces"),
        ({"text": "x", "language": "english"}, 'language: must be a language code like "en" or "pt-BR"'),
        ({"text": "x", "scheduled_at": "2026-12-01T09:00"},
         "scheduled_at: needs a time zone, e.g. 2026-12-01T09:00+01:00 or ...Z"),
        ({"text": "x", "colour": "red"}, "colour: is not a field here (check the spelling)"),
    ]  # fmt: skip
    for body, said in cases:
        status, problem = await web.request("POST", "/api/v1/messages", role="publisher", json=body)
        assert (status, problem["detail"]) == (422, said)
        assert "should" not in problem["detail"] and "^" not in problem["detail"]
