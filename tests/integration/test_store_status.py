"""The store's part for incidents and components: one contract, SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from failover.model import NewMessage
from failover.store.base import Store
from failover.store.status import ComponentSpec, NewIncident, NewUpdate
from tests.integration import test_store

store = test_store.store  # the same SQLite/PostgreSQL fixture as the rest of the contract
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def a_message(store: Store, text: str) -> int:
    new = NewMessage(text=text, route="default", created_by="test")
    message, _, _ = await store.create_message(new, [], [], T0)
    return message.id


SPECS = [
    ComponentSpec("web", "Website", position=2),
    ComponentSpec("api", "API", "The REST API", "Platform", 1, "https://api.example/health"),
    ComponentSpec("db", "Database", position=1),
]


async def test_components_are_synced_without_touching_their_status(store: Store) -> None:
    await store.upsert_components(SPECS, T0)
    assert [c.id for c in await store.list_components()] == ["api", "db", "web"]  # position, name
    changed = await store.set_component_status("api", "major_outage", "operator:ann", at(1))
    assert changed is not None and changed.status == "major_outage"
    assert await store.set_component_status("nope", "major_outage", "operator:ann", at(1)) is None
    renamed = [ComponentSpec("api", "Public API", None, "Platform", 1, None)]
    await store.upsert_components(renamed, at(2))
    api = await store.get_component("api")
    assert api is not None
    assert (api.name, api.description, api.probe, api.status) == (
        "Public API",
        None,
        None,
        "major_outage",
    )
    assert api.created_at == T0 and api.updated_at == at(2)


async def test_history_gives_each_components_status_at_the_window_start(store: Store) -> None:
    await store.upsert_components(SPECS, T0)
    await store.set_component_status("api", "partial_outage", "incident:1", at(10))
    await store.set_component_status("api", "partial_outage", "incident:1", at(11))  # no change
    await store.set_component_status("api", "operational", "incident:1", at(20))
    await store.set_component_status("web", "degraded_performance", "probe", at(30))
    history = await store.component_history(at(15))
    assert [(h.component_id, h.status, h.source, h.at) for h in history] == [
        ("api", "partial_outage", "incident:1", at(10)),  # the last change before the window
        ("api", "operational", "incident:1", at(20)),
        ("db", "operational", "config", T0),
        ("web", "operational", "config", T0),
        ("web", "degraded_performance", "probe", at(30)),
    ]


async def test_an_incident_from_open_to_resolved(store: Store) -> None:
    await store.upsert_components(SPECS, T0)
    first_msg = await a_message(store, "[Investigating] API down")
    new = NewIncident(
        "incident", "API down", "major", "investigating", "default", "ann", {"api": "major_outage"}
    )
    first = NewUpdate("investigating", "We are looking", "ann", first_msg)
    opened = await store.create_incident(new, T0, first)
    assert opened.thread_message_id == first_msg and opened.started_at == T0
    assert opened.components == {"api": "major_outage"} and not opened.draft
    second_msg = await a_message(store, "[Identified] API down")
    update = NewUpdate(
        "identified",
        "A bad deploy",
        "bob",
        second_msg,
        {"api": "partial_outage", "db": "degraded_performance"},
    )
    recorded = await store.add_incident_update(opened.id, update, at(5))
    assert recorded.state == "identified" and recorded.message_id == second_msg
    await store.add_incident_update(opened.id, NewUpdate("resolved", "Fixed", "bob"), at(9))
    done = await store.get_incident(opened.id)
    assert done is not None
    assert (done.state, done.resolved_at, done.updated_at) == ("resolved", at(9), at(9))
    assert done.thread_message_id == first_msg  # later updates keep the first post as thread
    assert done.components == {"api": "partial_outage", "db": "degraded_performance"}
    assert [u.state for u in done.updates] == ["resolved", "identified", "investigating"]
    assert await store.get_incident(opened.id + 100) is None


async def test_lists_filter_by_kind_activity_page_and_drafts(store: Store) -> None:
    await store.upsert_components(SPECS, T0)
    ids = []
    for n, (kind, state, draft) in enumerate([
        ("incident", "resolved", False),
        ("maintenance", "scheduled", False),
        ("incident", "investigating", False),
        ("incident", "investigating", True),
        ("maintenance", "completed", False),
    ]):  # fmt: skip
        new = NewIncident(kind, f"#{n}", "minor", state, "default", "ann", {"web": "x"}, draft)
        made = await store.create_incident(new, at(n), NewUpdate(state, "body", "ann"))
        ids.append(made.id)
    assert [i.id for i in await store.list_incidents()] == [ids[4], ids[2], ids[1], ids[0]]
    everything = await store.list_incidents(include_drafts=True)
    assert [i.id for i in everything] == ids[::-1]
    assert all(i.components == {"web": "x"} and len(i.updates) == 1 for i in everything)
    assert [i.id for i in await store.list_incidents("incident", active=True)] == [ids[2]]
    assert [i.id for i in await store.list_incidents("maintenance", active=False)] == [ids[4]]
    assert [i.id for i in await store.list_incidents(active=False)] == [ids[4], ids[0]]
    page = await store.list_incidents(before_id=ids[4], limit=2, include_drafts=True)
    assert [i.id for i in page] == [ids[3], ids[2]]
    assert all(len(i.updates) == 1 for i in page)


async def test_a_draft_is_published_once_and_takes_its_thread_later(store: Store) -> None:
    await store.upsert_components(SPECS, T0)
    new = NewIncident("incident", "Probe", "major", "investigating", "default", "probe", draft=True)
    draft = await store.create_incident(new, T0, NewUpdate("investigating", "down", "probe"))
    assert draft.draft and draft.thread_message_id is None
    assert await store.publish_incident(draft.id, at(1))
    assert not await store.publish_incident(draft.id, at(1))  # a second confirm posts nothing
    message_id = await a_message(store, "down")
    await store.set_update_message(draft.id, draft.updates[0].id, message_id)
    published = await store.get_incident(draft.id)
    assert published is not None and not published.draft
    assert published.thread_message_id == message_id == published.updates[0].message_id


async def test_maintenance_times_and_the_reminder_are_recorded_once(store: Store) -> None:
    new = NewIncident(
        "maintenance", "DB upgrade", "maintenance", "scheduled", "default", "ann",
        scheduled_for=at(60), scheduled_until=at(120), remind_before=600.0,
        auto_start=True, auto_complete=True,
    )  # fmt: skip
    planned = await store.create_incident(new, T0, NewUpdate("scheduled", "Planned", "ann"))
    assert planned.started_at is None and planned.active
    assert (planned.scheduled_for, planned.scheduled_until) == (at(60), at(120))
    assert planned.remind_before == 600.0 and planned.auto_start and planned.auto_complete
    assert await store.mark_reminded(planned.id, at(50))
    assert not await store.mark_reminded(planned.id, at(51))
    await store.add_incident_update(planned.id, NewUpdate("in_progress", "Go", "timer"), at(60))
    await store.add_incident_update(planned.id, NewUpdate("completed", "Done", "timer"), at(120))
    done = await store.get_incident(planned.id)
    assert done is not None and not done.active
    assert (done.reminded_at, done.started_at, done.resolved_at) == (at(50), at(60), at(120))
