"""Opening, updating, resolving and publishing incidents; scheduling maintenance; components.

Plain async methods over the store, the intake and the clock, so the API, the web UI and the
daemon's timers call the same code. Each update is posted through the normal intake (routing,
failover, fitting, retry) as a message threaded on the incident's first post.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from failover.clock import Clock
from failover.config import Config
from failover.errors import Conflict, InvalidInput, NotFound
from failover.incidents.model import (
    MAINTENANCE_IMPACT,
    ComponentIn,
    ComponentPatch,
    IncidentIn,
    MaintenanceIn,
    UpdateIn,
    is_final,
    states_of,
    validated,
    worst,
)
from failover.incidents.templates import render
from failover.intake import Intake
from failover.store.base import Store
from failover.store.status import Component, ComponentSpec, Incident, NewIncident, NewUpdate

IN_EFFECT = ("in_progress", "verifying")  # maintenance states that hold components down


@dataclass
class Incidents:
    store: Store
    clock: Clock
    intake: Intake
    config: Config

    # -- incidents ---------------------------------------------------------------------------

    async def open(self, payload: Any, actor: str) -> Incident:
        """Post the first update and record the incident; its components follow it."""
        data = validated(IncidentIn, payload)
        await self._known_components(data.components)
        route = self._route(data.route)
        message_id = await self._post(data.state, data.title, data.body, data.impact, route, actor)
        new = NewIncident(
            "incident", data.title, data.impact, data.state, route, actor, data.components
        )
        first = NewUpdate(data.state, data.body, actor, message_id)
        made = await self.store.create_incident(new, self.clock.now(), first)
        await self._follow(made.components, f"incident:{made.id}")
        return await self.get(made.id)

    async def update(self, incident_id: int, payload: Any, actor: str) -> Incident:
        """A later update (state ``resolved``/``completed`` ends the incident)."""
        data = validated(UpdateIn, payload)
        incident = await self.get(incident_id)
        return await self.advance(incident, data.state, data.body, actor, data.components)

    async def advance(
        self,
        incident: Incident,
        state: str,
        body: str,
        actor: str,
        components: Mapping[str, str] | None = None,
    ) -> Incident:
        """Post ``body`` in ``state`` on the incident's thread and record it."""
        if incident.draft:
            raise Conflict(f"incident {incident.id} is a draft: publish it before updating it")
        if is_final(incident.state):
            raise Conflict(
                f"{incident.kind} {incident.id} is {incident.state}: it takes no more updates"
            )
        if state not in states_of(incident.kind):
            allowed = ", ".join(states_of(incident.kind))
            raise InvalidInput("state", f"a {incident.kind} is one of: {allowed}; not {state!r}")
        if components is not None:
            await self._known_components(components)
        message_id = await self._post(
            state, incident.title, body, incident.impact, incident.route, actor,
            incident.thread_message_id,
        )  # fmt: skip
        update = NewUpdate(state, body, actor, message_id, components)
        await self.store.add_incident_update(incident.id, update, self.clock.now())
        touched = set(incident.components) | set(components or {})
        await self._follow(touched, f"{incident.kind}:{incident.id}")
        return await self.get(incident.id)

    async def publish(self, incident_id: int, actor: str) -> Incident:
        """A human confirms a draft (opened by a probe): its first update is posted now."""
        incident = await self.get(incident_id)
        if not incident.draft:
            raise Conflict(f"incident {incident_id} is not a draft; it was published already")
        if is_final(incident.state):
            raise Conflict(f"incident {incident_id} is {incident.state}: nothing to publish")
        if not await self.store.publish_incident(incident_id, self.clock.now()):
            raise Conflict(f"incident {incident_id} was published by someone else just now")
        first = incident.updates[-1]
        message_id = await self._post(
            first.state, incident.title, first.body, incident.impact, incident.route, actor
        )
        await self.store.set_update_message(incident_id, first.id, message_id)
        await self._follow(incident.components, f"incident:{incident_id}")
        return await self.get(incident_id)

    async def open_draft(self, component: Component, body: str, actor: str) -> Incident | None:
        """A draft for a human to confirm (nothing is posted); None when an active incident,
        draft or not, already covers the component."""
        for incident in await self.store.list_incidents(active=True, limit=1000, include_drafts=True):  # fmt: skip
            if component.id in incident.components:
                return None
        new = NewIncident(
            "incident", f"{component.name} is not responding", "major", "investigating",
            self._route(None), actor, {component.id: "major_outage"}, draft=True,
        )  # fmt: skip
        first = NewUpdate("investigating", body, actor)
        return await self.store.create_incident(new, self.clock.now(), first)

    async def get(self, incident_id: int) -> Incident:
        incident = await self.store.get_incident(incident_id)
        if incident is None:
            raise NotFound(f"no incident {incident_id}")
        return incident

    # -- maintenance -------------------------------------------------------------------------

    async def schedule(self, payload: Any, actor: str) -> Incident:
        """Announce maintenance now; its timers (reminder, start, end) post the rest."""
        data = validated(MaintenanceIn, payload)
        held = dict.fromkeys(data.components, "under_maintenance")
        await self._known_components(held)
        route = self._route(data.route)
        message_id = await self._post(
            "scheduled", data.title, data.body, MAINTENANCE_IMPACT, route, actor
        )
        new = NewIncident(
            "maintenance", data.title, MAINTENANCE_IMPACT, "scheduled", route, actor, held,
            scheduled_for=data.scheduled_for.astimezone(UTC),
            scheduled_until=data.scheduled_until.astimezone(UTC),
            remind_before=data.remind_before,
            auto_start=data.auto_start, auto_complete=data.auto_complete,
        )  # fmt: skip
        first = NewUpdate("scheduled", data.body, actor, message_id)
        made = await self.store.create_incident(new, self.clock.now(), first)
        return await self.get(made.id)

    async def remind(self, incident: Incident, body: str, actor: str) -> bool:
        """Post the reminder once (False if it was posted already)."""
        if not await self.store.mark_reminded(incident.id, self.clock.now()):
            return False
        message_id = await self._post(
            "reminder", incident.title, body, incident.impact, incident.route, actor,
            incident.thread_message_id,
        )  # fmt: skip
        update = NewUpdate(incident.state, body, actor, message_id)
        await self.store.add_incident_update(incident.id, update, self.clock.now())
        return True

    # -- components --------------------------------------------------------------------------

    async def set_component(self, component_id: str, payload: Any, actor: str) -> Component:
        data = validated(ComponentPatch, payload)
        changed = await self.store.set_component_status(
            component_id, data.status, f"operator:{actor}", self.clock.now()
        )
        if changed is None:
            raise NotFound(f"no component {component_id!r}")
        return changed

    async def create_component(self, payload: Any) -> Component:
        data = validated(ComponentIn, payload)
        if await self.store.get_component(data.id) is not None:
            raise Conflict(f"component {data.id!r} exists; PATCH it to change its status")
        spec = ComponentSpec(
            data.id, data.name, data.description, data.group, data.position, data.probe
        )
        await self.store.upsert_components([spec], self.clock.now())
        made = await self.store.get_component(data.id)
        assert made is not None
        return made

    async def refresh(self, component_ids: Iterable[str], source: str) -> None:
        """Give components the status their active incidents give them (operational if none)."""
        await self._follow(component_ids, source)

    # -- parts -------------------------------------------------------------------------------

    async def _follow(self, component_ids: Iterable[str], source: str) -> None:
        ids = sorted(set(component_ids))
        if not ids:
            return
        active = await self.store.list_incidents(active=True, limit=1000)
        now = self.clock.now()
        for cid in ids:
            given = [
                i.components[cid]
                for i in active
                if cid in i.components and (i.kind == "incident" or i.state in IN_EFFECT)
            ]
            await self.store.set_component_status(cid, worst(given), source, now)

    async def _known_components(self, components: Mapping[str, str]) -> None:
        if not components:
            return
        known = {c.id for c in await self.store.list_components()}
        for cid in components:
            if cid not in known:
                names = ", ".join(sorted(known)) or "none yet; add [components.<id>] to the config"
                raise InvalidInput(f"components.{cid}", f"no component {cid!r}; known: {names}")

    def _route(self, asked: str | None) -> str:
        name = asked or self.config.incidents.route or self.config.default_route
        if name not in self.config.routes or name.startswith("_"):
            known = ", ".join(r for r in self.config.routes if not r.startswith("_"))
            raise InvalidInput("route", f"no route named {name!r}; known: {known}")
        return name

    async def _post(
        self,
        key: str,
        title: str,
        body: str,
        impact: str,
        route: str,
        actor: str,
        thread: int | None = None,
    ) -> int:
        text = render(key, title, body, impact, self.config.incidents.templates)
        payload: dict[str, Any] = {"text": text, "route": route}
        if thread is not None:
            payload["thread"] = thread
        message, _, _ = await self.intake.submit(payload, actor)
        return message.id
