"""The incident pages' forms as a browser posts them: bad input brings the form back (4xx)
with a short message beside the field and what was typed kept; roles and CSRF are checked
as on every other page; the preview carries the state prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from tests.harness import Harness
from tests.web.incident_fixtures import incident_web, site  # noqa: F401 - fixtures
from tests.web.web_session import login

Client = tuple[aiohttp.ClientSession, str]
INCIDENT = {"title": "Checkout errors", "impact": "major", "state": "investigating",
            "body": "Payments fail for some.", "component.api": "partial_outage"}  # fmt: skip


@pytest.fixture
async def operator(incident_web: Harness) -> AsyncIterator[Client]:  # noqa: F811
    s, csrf = await login(incident_web.url, incident_web.tokens["operator"])
    yield s, csrf
    await s.close()


async def post(c: Client, url: str, form: dict[str, str]) -> tuple[int, str, str]:
    """POST the form with its CSRF token; (status, final path, page)."""
    s, csrf = c
    async with s.post(url, data={"csrf": csrf, **form}) as r:
        return r.status, r.url.path, await r.text()


async def test_composer_refuses_bad_input_with_the_field_named(
    incident_web: Harness,  # noqa: F811
    operator: Client,
) -> None:
    url = incident_web.url + "/ui/incidents/new"
    status, _, html = await post(operator, url, {**INCIDENT, "title": " "})
    assert status == 422
    assert 'id="title-error"' in html and 'id="title" name="title" value=" "' in html
    assert "Title: please fill this in" in html
    assert "Payments fail for some." in html  # nothing typed is lost
    status, _, html = await post(operator, url, {**INCIDENT, "impact": "huge"})
    assert status == 422 and 'id="impact-error"' in html
    status, _, html = await post(operator, url, {**INCIDENT, "component.api": "on fire"})
    assert status == 422 and 'id="components-api-error"' in html
    status, _, html = await post(operator, url, {**INCIDENT, "component.nope": "major_outage"})
    assert status == 422 and "no component &#39;nope&#39;" in html
    status, _, html = await post(operator, url, {**INCIDENT, "route": "_alerts"})
    assert status == 422 and 'id="route-error"' in html
    for page in (html,):
        assert "Traceback" not in page and "pydantic" not in page
    assert await incident_web.daemon.store.list_incidents(include_drafts=True) == []


async def test_updates_refused_with_a_reason_and_kept(
    incident_web: Harness,  # noqa: F811
    operator: Client,
) -> None:
    status, path, _ = await post(operator, incident_web.url + "/ui/incidents/new", INCIDENT)
    assert status == 200 and path.startswith("/ui/incidents/")
    page = incident_web.url + path
    status, _, html = await post(operator, page, {"state": "fixed", "body": "Rolled back."})
    assert status == 422 and 'id="state-error"' in html and "Rolled back." in html
    status, _, html = await post(operator, page, {"state": "identified", "body": ""})
    assert status == 422 and 'id="body-error"' in html
    status, _, html = await post(operator, page + "/resolve", {"body": ""})  # default words
    assert status == 200 and "This incident has been resolved." in html
    status, _, html = await post(operator, page, {"state": "monitoring", "body": "Late."})
    assert status == 409 and "takes no more updates" in html
    status, _, _ = await post(operator, incident_web.url + "/ui/incidents/999999", INCIDENT)
    assert status == 404
    status, _, _ = await post(operator, incident_web.url + "/ui/incidents/999999/publish", {})
    assert status == 404
    status, _, html = await post(operator, page + "/publish", {})
    assert status == 409 and "not a draft" in html


async def test_roles_and_csrf(incident_web: Harness, operator: Client) -> None:  # noqa: F811
    s, _ = operator
    async with s.post(incident_web.url + "/ui/incidents/new", data=INCIDENT) as r:
        assert r.status == 403  # no CSRF token
    viewer, csrf = await login(incident_web.url, incident_web.tokens["viewer"])
    publisher, pcsrf = await login(incident_web.url, incident_web.tokens["publisher"])
    try:
        async with viewer.get(incident_web.url + "/ui/incidents") as r:
            assert r.status == 200 and "Open an incident" not in await r.text()
        async with viewer.get(incident_web.url + "/ui/components") as r:
            assert r.status == 200 and "<select" not in await r.text()  # read only
        status, _, _ = await post((viewer, csrf), incident_web.url + "/ui/incidents/new", INCIDENT)
        assert status == 403
        status, _, _ = await post((publisher, pcsrf), incident_web.url + "/ui/components/api",
                                  {"status": "major_outage"})  # fmt: skip
        assert status == 403  # operators edit components
    finally:
        await viewer.close()
        await publisher.close()
    assert await incident_web.daemon.store.list_incidents(include_drafts=True) == []
    api = await incident_web.daemon.store.get_component("api")
    assert api is not None and api.status == "operational"


async def test_preview_has_the_state_prefix(
    incident_web: Harness,  # noqa: F811
    operator: Client,
) -> None:
    s, csrf = operator
    url = incident_web.url + "/ui/incidents/preview"
    body = {"title": "Checkout errors", "body": "Looking.", "state": "monitoring"}
    async with s.post(url, json=body, headers={"X-CSRF-Token": csrf}) as r:
        assert r.status == 200
        data = await r.json()
    hook = next(c for c in data["channels"] if c["channel"] == "hook")
    assert hook["posts"][0]["text"] == "[Monitoring] Checkout errors: Looking."
    for bad in ({**body, "state": "done"}, {**body, "incident": "x"}, [1]):
        async with s.post(url, json=bad, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 422 and (await r.json())["error"]
    async with s.post(url, json=body) as r:
        assert r.status == 403  # no CSRF token


async def test_maintenance_form(incident_web: Harness, operator: Client) -> None:  # noqa: F811
    url = incident_web.url + "/ui/maintenance/new"
    start = datetime.now(UTC) + timedelta(days=2)
    form = {"title": "Database upgrade", "body": "Read-only for 30 minutes.", "tz": "UTC",
            "scheduled_for": f"{start:%Y-%m-%dT%H:%M}",
            "scheduled_until": f"{start + timedelta(minutes=30):%Y-%m-%dT%H:%M}",
            "held.api": "1", "remind_before": "1h", "auto_start": "1"}  # fmt: skip
    cases = {
        "scheduled_until": {"scheduled_until": f"{start - timedelta(hours=1):%Y-%m-%dT%H:%M}"},
        "remind_before": {"remind_before": "soon"},
        "scheduled_for": {"scheduled_for": "tomorrow"},
        "tz": {"tz": "Mars/Olympus"},
        "title": {"title": ""},
    }
    for field, change in cases.items():
        status, _, html = await post(operator, url, {**form, **change})
        assert status == 422 and f'id="{field}-error"' in html, (field, status)
        assert "Read-only for 30 minutes." in html
        assert "scheduled_" not in html.split('id="form-error"')[1].split("</p>")[0]  # words
    status, path, html = await post(operator, url, form)
    assert status == 200 and path.startswith("/ui/incidents/"), (status, html[-600:])
    made = await incident_web.daemon.store.get_incident(int(path.rsplit("/", 1)[1]))
    assert made is not None and made.kind == "maintenance" and made.remind_before == 3600
    assert (
        made.auto_start
        and not made.auto_complete
        and made.components == {"api": "under_maintenance"}
    )
    s, _ = operator
    async with s.get(incident_web.url + "/ui/incidents") as r:
        listed = await r.text()
    assert "Database upgrade" in listed and f"{start:%Y-%m-%d %H:%M}" in listed  # the window


async def test_component_editor_refusals(
    incident_web: Harness,  # noqa: F811
    operator: Client,
) -> None:
    base = incident_web.url + "/ui/components"
    status, _, html = await post(operator, base + "/api", {"status": "sideways"})
    assert status == 422 and "field-error" in html
    status, _, _ = await post(operator, base + "/nope", {"status": "major_outage"})
    assert status == 404
    status, _, html = await post(operator, base, {"id": "Bad Id", "name": "Bad"})
    assert status == 422 and 'id="id-error"' in html and "lower-case" in html
    status, _, html = await post(operator, base, {"id": "api", "name": "Again"})
    assert status == 409 and "exists already" in html
    status, _, html = await post(operator, base, {"id": "cdn", "name": ""})
    assert status == 422 and 'id="name-error"' in html
    names = [c.id for c in await incident_web.daemon.store.list_components()]
    assert sorted(names) == ["api", "shop", "web"]
