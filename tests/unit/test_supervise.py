"""Side tasks are watched: a failure is logged by name with its traceback and restarted after
a pause; one that keeps failing stops the daemon so the service manager restarts it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from failover.supervise import Supervisor, restart_delay


async def test_a_failed_task_is_logged_by_name_and_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = 0
    healthy = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("store said no")
        healthy.set()
        await asyncio.Event().wait()

    fatal: list[str] = []
    sup = Supervisor(fatal.append, delay=lambda n: 0.01)
    with caplog.at_level(logging.WARNING, "failover.supervise"):
        sup.start("heartbeat", flaky)
        await asyncio.wait_for(healthy.wait(), 5)
    await sup.stop()
    failed = [r for r in caplog.records if r.getMessage() == "side task heartbeat failed"]
    assert failed and failed[0].exc_info and "store said no" in str(failed[0].exc_info[1])
    assert sup.restarts["heartbeat"] == 1 and runs == 2 and not fatal


async def test_a_task_that_ends_on_its_own_is_restarted_too() -> None:
    runs = 0

    async def quits() -> None:
        nonlocal runs
        runs += 1
        if runs > 2:
            await asyncio.Event().wait()

    sup = Supervisor(lambda why: None, delay=lambda n: 0.01)
    sup.start("listener", quits)
    for _ in range(200):
        if runs >= 3:
            break
        await asyncio.sleep(0.01)
    await sup.stop()
    assert runs == 3 and sup.restarts["listener"] == 2


async def test_a_task_that_keeps_failing_gives_up_and_asks_to_exit() -> None:
    async def broken() -> None:
        raise OSError("disk gone")

    fatal: list[str] = []
    sup = Supervisor(fatal.append, max_restarts=3, delay=lambda n: 0.001)
    sup.start("scheduler", broken)
    for _ in range(500):
        if fatal:
            break
        await asyncio.sleep(0.005)
    await sup.stop()
    assert fatal == ["side task scheduler failed 4 times in 300s"]
    assert sup.restarts["scheduler"] == 3


async def test_draining_lets_tasks_end_without_a_restart(caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()

    async def until_stopped() -> None:
        await stop.wait()

    sup = Supervisor(lambda why: None, delay=lambda n: 0.01)
    sup.start("scheduler", until_stopped)
    await asyncio.sleep(0.01)
    sup.drain()
    stop.set()
    await asyncio.sleep(0.05)
    await sup.stop()
    assert sup.restarts["scheduler"] == 0
    assert not [r for r in caplog.records if r.name == "failover.supervise"]


def test_restart_delay_doubles_and_is_capped() -> None:
    assert [restart_delay(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert restart_delay(20) == 30.0
