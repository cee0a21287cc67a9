"""Components bound to a URL, watched with the daemon's own ``http`` probe.

``down_after`` failures in a row make the component a major outage and open a *draft*
incident (nothing is posted until a human publishes it); ``up_after`` successes give the
component back the status its incidents give it. Counting is in memory on the leader: a new
leader starts counting afresh (which only delays a verdict) but knows from the component's
history whether a probe made it an outage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import aiohttp

from failover.config import ComponentConfig, ProbeConfig
from failover.incidents.service import Incidents
from failover.probes import http_probe
from failover.store.status import NewUpdate

log = logging.getLogger("failover.incidents")
SOURCE = "probe"


@dataclass
class _Count:
    failures: int = 0
    successes: int = 0
    down: bool = False  # this watcher made the component a major outage
    next_at: float = 0.0  # monotonic time of the next probe


@dataclass
class ProbeWatch:
    counts: dict[str, _Count] = field(default_factory=dict)  # per component id

    async def run_due(self, incidents: Incidents, session: aiohttp.ClientSession) -> None:
        """Probe every component whose interval has passed, and act on the verdicts."""
        now = incidents.clock.monotonic()
        for cid, cfg in incidents.config.components.items():
            if cfg.probe is None:
                continue
            if cid not in self.counts:
                self.counts[cid] = _Count(down=await _down_by_probe(incidents, cid))
            count = self.counts[cid]
            if now < count.next_at:
                continue
            count.next_at = now + cfg.probe_interval
            await self.probe_once(incidents, session, cid, cfg)

    async def probe_once(
        self, incidents: Incidents, session: aiohttp.ClientSession, cid: str, cfg: ComponentConfig
    ) -> None:
        assert cfg.probe is not None
        probe = ProbeConfig(
            kind="http", url=cfg.probe, timeout=cfg.probe_timeout, expect_status=cfg.expect_status
        )
        seen = await http_probe(probe, session)
        count = self.counts.setdefault(cid, _Count())
        if seen.ok:
            count.failures, count.successes = 0, count.successes + 1
            if count.down and count.successes >= cfg.up_after:
                count.down = False
                await self._recovered(incidents, cid)
            return
        count.successes, count.failures = 0, count.failures + 1
        if not count.down and count.failures >= cfg.down_after:
            count.down = True
            await self._failed(incidents, cid, seen.detail)

    async def _failed(self, incidents: Incidents, cid: str, detail: str) -> None:
        now = incidents.clock.now()
        component = await incidents.store.set_component_status(cid, "major_outage", SOURCE, now)
        if component is None:
            return
        body = f"Our monitoring cannot reach {component.name} ({detail}); we are looking into it."
        draft = await incidents.open_draft(component, body, SOURCE)
        log.warning(
            "component %s failed its probe (%s); draft incident %s awaits confirmation",
            cid, detail, draft.id if draft else "(one is open already)",
            extra={"event": "component.probe_failed", "component": cid},
        )  # fmt: skip

    async def _recovered(self, incidents: Incidents, cid: str) -> None:
        """Back to what its incidents say; an unconfirmed draft for it is closed unposted."""
        drafts = await incidents.store.list_incidents(active=True, include_drafts=True, limit=1000)
        for draft in drafts:
            if draft.draft and draft.created_by == SOURCE and cid in draft.components:
                note = "Recovered before anyone confirmed it; nothing was posted."
                closed = NewUpdate("resolved", note, SOURCE)
                await incidents.store.add_incident_update(draft.id, closed, incidents.clock.now())
        await incidents.refresh([cid], SOURCE)
        log.info("component %s answers its probe again", cid, extra={"event": "component.probe_ok"})  # fmt: skip


async def _down_by_probe(incidents: Incidents, cid: str) -> bool:
    """Whether a probe (on this or an earlier leader) left the component a major outage, so
    a new leader still gives it back when it recovers."""
    last = [c for c in await incidents.store.component_history(incidents.clock.now()) if c.component_id == cid]  # fmt: skip
    return bool(last) and last[-1].source == SOURCE and last[-1].status == "major_outage"
