"""Prometheus metrics, on a registry per daemon (so tests and embedded uses stay separate).

The names are a contract with docs/grafana-dashboard.json and docs/prometheus-alerts.yml; a test keeps
the three in step.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from failover.model import Health
from failover.store.base import QueueStats

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """Every metric the daemon exports, grouped by what it watches; registered in the order
    /metrics lists them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._health_metrics()
        self._delivery_metrics()
        self._queue_metrics()
        self._probe_metrics()
        self._daemon_metrics()
        self._store_seen = {"statements": 0, "commits": 0}

    def _health_metrics(self) -> None:
        self.channel_state = Gauge(
            "failover_channel_state",
            "1 for the channel's current health state, else 0",
            ["channel", "state"],
            registry=self.registry,
        )

    def _delivery_metrics(self) -> None:
        r = self.registry
        self.failovers = Counter(
            "failover_failovers_total",
            "Messages rerouted to a later tier",
            ["route", "from_channel"],
            registry=r,
        )
        self.deliveries = Counter(
            "failover_deliveries_total",
            "Deliveries that reached a final state",
            ["channel", "outcome"],
            registry=r,
        )
        self.attempts = Counter(
            "failover_attempts_total",
            "Send attempts by outcome",
            ["channel", "outcome"],
            registry=r,
        )
        self.attempt_duration = Histogram(
            "failover_attempt_duration_seconds",
            "Time of one send attempt",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def _queue_metrics(self) -> None:
        r = self.registry
        self.queue_depth = Gauge(
            "failover_queue_depth", "Deliveries by queue state", ["state"], registry=r
        )
        self.oldest_due = Gauge(
            "failover_queue_oldest_due_age_seconds",
            "How long the oldest due delivery has waited",
            registry=r,
        )

    def _probe_metrics(self) -> None:
        r = self.registry
        self.probe_duration = Histogram(
            "failover_probe_duration_seconds",
            "Time of one health probe",
            ["channel", "kind"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.probe_failures = Counter(
            "failover_probe_failures_total",
            "Probes that found a problem",
            ["channel", "kind"],
            registry=r,
        )

    def _daemon_metrics(self) -> None:
        """The daemon's own work: its event loop, what it accepts, what it asks of the store."""
        r = self.registry
        self.loop_lag = Gauge(
            "failover_event_loop_lag_seconds",
            "Worst lateness of the event loop over the last 10 s (work holding the loop)",
            registry=r,
        )
        self.accepted = Counter(
            "failover_messages_accepted_total", "Messages accepted", ["route"], registry=r
        )
        self.store_work = Counter(
            "failover_store_work",
            "SQL statements run on the store (BEGIN/COMMIT not counted) and commits",
            ["kind"],
            registry=r,
        )

    def set_health(self, channel: str, health: Health) -> None:
        for state in Health:
            self.channel_state.labels(channel, state.value).set(1 if state is health else 0)

    def set_queue(self, q: QueueStats, oldest_age: float) -> None:
        self.queue_depth.labels("pending").set(q.pending)
        self.queue_depth.labels("due").set(q.due)
        self.queue_depth.labels("sending").set(q.sending)
        self.oldest_due.set(oldest_age)

    def set_store(self, statements: int, commits: int) -> None:
        """Bring the counters up to the store's own running totals."""
        for kind, total in (("statements", statements), ("commits", commits)):
            self.store_work.labels(kind).inc(max(0, total - self._store_seen[kind]))
            self._store_seen[kind] = max(total, self._store_seen[kind])

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
