"""Two daemons on one PostgreSQL store: only the leader runs the maintenance timers, so each
step is posted once, whichever daemon the maintenance was scheduled through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.harness import eventually, start_daemon, write_config
from tests.peers.postgres_db import throwaway_database

BODY = """
[channels.status]
type = "feed"

[routes.default]
tiers = [["status"]]

[components.db]
name = "Database"

[incidents]
timer_interval = "50ms"
"""


async def test_only_the_leader_posts_maintenance_steps(tmp_path: Path) -> None:
    with throwaway_database() as dsn:
        paths = []
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            path = write_config(tmp_path / name, BODY)
            path.write_text(f'store = "{dsn}"\n' + path.read_text())
            paths.append(path)
        first = await start_daemon(paths[0])
        second = await start_daemon(paths[1], tokens=first.tokens)
        try:
            assert first.daemon.leading and not second.daemon.leading
            now = datetime.now(UTC)
            code, m = await second.request(  # through the follower: the leader runs it
                "POST", "/api/v1/maintenances", role="publisher",
                json={"title": "DB upgrade", "body": "Brief pause.", "components": ["db"],
                      "scheduled_for": (now + timedelta(seconds=1)).isoformat(),
                      "scheduled_until": (now + timedelta(seconds=2)).isoformat(),
                      "remind_before": "10m", "auto_start": True, "auto_complete": True},
            )  # fmt: skip
            assert code == 201, m

            async def completed() -> bool:
                got = await first.daemon.store.get_incident(m["id"])
                return got is not None and got.state == "completed"

            await eventually(completed)
            for _ in range(10):  # both loops turn a few more times: nothing more is posted
                await first.daemon.clock.sleep(0.05)
            done = await second.daemon.store.get_incident(m["id"])
            assert done is not None
            assert [(u.state, u.created_by) for u in done.updates] == [
                ("completed", "maintenance-timer"),
                ("in_progress", "maintenance-timer"),
                ("scheduled", "maintenance-timer"),  # the reminder, once
                ("scheduled", "token:test-publisher"),
            ]
            assert len({u.message_id for u in done.updates}) == 4
        finally:
            await second.daemon.stop()
            await first.daemon.stop()
