"""Scheduled maintenance on its own: the reminder, auto-start and auto-complete.

Each is posted like any update, on the maintenance's thread. Only the cluster's leader runs
them, and the reminder is recorded once in the store, so two daemons never post it twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from failover.incidents.service import Incidents
from failover.store.status import Incident

log = logging.getLogger("failover.incidents")
ACTOR = "maintenance-timer"


def _at(when: datetime | None) -> str:
    return "?" if when is None else f"{when:%Y-%m-%d %H:%M} UTC"


async def run_due(incidents: Incidents) -> list[tuple[int, str]]:
    """Do whatever maintenance is due now; return (maintenance id, what was done)."""
    now = incidents.clock.now()
    done: list[tuple[int, str]] = []
    for m in await incidents.store.list_incidents("maintenance", active=True, limit=1000):
        step = _due_step(m, now)
        if step is None:
            continue
        if step == "reminder":
            body = f"Maintenance starts at {_at(m.scheduled_for)} and should end by {_at(m.scheduled_until)}."  # fmt: skip
            if not await incidents.remind(m, body, ACTOR):
                continue
        elif step == "in_progress":
            body = f"Maintenance has started; it should end by {_at(m.scheduled_until)}."
            await incidents.advance(m, "in_progress", body, ACTOR)
        else:
            await incidents.advance(m, "completed", "Maintenance is complete.", ACTOR)
        log.info("maintenance %d: %s", m.id, step, extra={"event": f"maintenance.{step}"})
        done.append((m.id, step))
    return done


def _due_step(m: Incident, now: datetime) -> str | None:
    """The one thing due for ``m`` now, if any (the reminder is skipped once it has started)."""
    start, end = m.scheduled_for, m.scheduled_until
    if m.state == "scheduled" and start is not None:
        if m.auto_start and now >= start:
            return "in_progress"
        if m.remind_before and m.reminded_at is None and start - timedelta(seconds=m.remind_before) <= now < start:  # fmt: skip
            return "reminder"
    if m.auto_complete and m.state in ("in_progress", "verifying") and end is not None and now >= end:  # fmt: skip
        return "completed"
    return None
