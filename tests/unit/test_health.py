"""The health state machine: thresholds, hysteresis, half-open trials, the write path decides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from failover.config import HealthConfig
from failover.health.machine import HealthMachine, Observation
from failover.model import Health

T0 = datetime(2026, 5, 1, tzinfo=UTC)
CFG = HealthConfig(down_after=3, up_after=2, cooldown=30, error_rate=0.5, window=60, min_samples=4)

PROBE_OK = Observation(True, "probe:http")
PROBE_BAD = Observation(False, "probe:http", "503")
SEND_OK = Observation(True, "send")
SEND_BAD = Observation(False, "send", "503")


def feed(
    m: HealthMachine, observations: list[Observation], start: datetime = T0, step: float = 1.0
) -> list[Health]:
    seen = []
    for i, obs in enumerate(observations):
        t = m.observe(obs, start + timedelta(seconds=i * step))
        if t is not None:
            seen.append(t.after)
    return seen


def test_first_success_makes_unknown_up() -> None:
    m = HealthMachine(CFG)
    assert feed(m, [PROBE_OK]) == [Health.UP]


def test_single_blip_changes_nothing() -> None:
    m = HealthMachine(CFG, Health.UP)
    assert feed(m, [PROBE_OK, PROBE_BAD, PROBE_OK, PROBE_BAD, PROBE_OK]) == []
    assert m.health is Health.UP


def test_n_consecutive_failures_go_down() -> None:
    m = HealthMachine(CFG, Health.UP)
    assert feed(m, [PROBE_BAD, PROBE_BAD, PROBE_BAD]) == [Health.DOWN]


def test_first_failed_send_counts_at_once() -> None:
    m = HealthMachine(CFG, Health.UP)
    t = m.observe(SEND_BAD, T0)
    assert t is None and m.failures == 1  # noticed at the first failed post


def test_green_probes_do_not_hide_failing_posts() -> None:
    m = HealthMachine(CFG, Health.UP)
    seen = feed(m, [SEND_BAD, PROBE_OK, SEND_BAD, PROBE_OK, SEND_BAD])
    assert seen == [Health.DOWN]


def test_error_rate_over_window() -> None:
    cfg = HealthConfig(down_after=10, error_rate=0.5, window=60, min_samples=4)
    m = HealthMachine(cfg, Health.UP)
    assert feed(m, [SEND_OK, SEND_BAD, SEND_OK, SEND_BAD]) == []  # 50% is not above 50%
    assert feed(m, [SEND_BAD], start=T0 + timedelta(seconds=5)) == [Health.DOWN]


def test_flapping_under_threshold_does_not_fail_over() -> None:
    m = HealthMachine(CFG, Health.UP)
    flaps = [PROBE_BAD, PROBE_BAD, PROBE_OK] * 10
    assert feed(m, flaps, step=2.5) == []


def test_cooldown_then_recovery_on_probation_then_relapse() -> None:
    m = HealthMachine(CFG, Health.UP)
    feed(m, [PROBE_BAD] * 3)
    assert m.health is Health.DOWN
    down_at = m.since
    assert down_at is not None
    # Successes inside the cool-down do not count.
    assert feed(m, [PROBE_OK, PROBE_OK], start=down_at + timedelta(seconds=5)) == []
    assert feed(m, [PROBE_OK, PROBE_OK], start=down_at + timedelta(seconds=31)) == [Health.UP]
    assert m.on_probation
    # The first failing send on probation takes it straight back down, with a longer cool-down.
    assert feed(m, [SEND_BAD], start=down_at + timedelta(seconds=40)) == [Health.DOWN]
    assert m.cooldown() == 60
    relapse_at = m.since
    assert relapse_at is not None
    assert feed(m, [PROBE_OK, PROBE_OK], start=relapse_at + timedelta(seconds=31)) == []
    assert feed(m, [PROBE_OK, PROBE_OK], start=relapse_at + timedelta(seconds=61)) == [Health.UP]
    # Successful sends end the probation ("stable") and reset the cool-down.
    assert feed(m, [SEND_OK, SEND_OK], start=relapse_at + timedelta(seconds=70)) == [Health.UP]
    assert not m.on_probation and m.cooldown() == 30


def test_trial_send_success_recovers() -> None:
    m = HealthMachine(CFG, Health.DOWN, since=T0)
    assert feed(m, [SEND_OK], start=T0 + timedelta(seconds=31)) == [Health.UP]


def test_revoked_credentials_go_down_at_once() -> None:
    m = HealthMachine(CFG, Health.UP)
    t = m.observe(Observation(False, "probe:adapter", "401 invalid token", fatal=True), T0)
    assert t is not None and t.after is Health.DOWN and "401" in t.reason


def test_degraded_from_status_page_and_back() -> None:
    m = HealthMachine(CFG, Health.UP)
    assert feed(m, [Observation(True, "probe:statuspage", "minor", degraded=True)]) == [
        Health.DEGRADED
    ]
    assert feed(m, [SEND_OK]) == []  # a good send does not clear the page's notice
    assert feed(m, [Observation(True, "probe:statuspage", "none")]) == [Health.UP]


def test_degraded_notice_is_cleared_only_by_its_own_source() -> None:
    m = HealthMachine(CFG, Health.UP)
    minor = Observation(True, "probe:statuspage", "minor", degraded=True)
    adapter_ok = Observation(True, "probe:adapter", "authenticated")
    # Another probe's success must not flip degraded -> up -> degraded on every round.
    assert feed(m, [minor, adapter_ok, minor, adapter_ok, adapter_ok]) == [Health.DEGRADED]
    assert feed(m, [Observation(True, "probe:statuspage", "none")]) == [Health.UP]
