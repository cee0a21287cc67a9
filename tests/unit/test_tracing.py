"""failover.tracing on its own: the span tree of one message (acceptance, attempts, sends), the
trace carried across a restart by the stored traceparent, and nothing of OpenTelemetry when off.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from failover.config import TracingConfig
from failover.tracing import Tracing, record

TRACEPARENT = r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"


def traced(memory: InMemorySpanExporter) -> Tracing:
    """An enabled Tracing whose spans land in ``memory`` (as a daemon's would in a collector)."""
    tracing = Tracing(TracingConfig(enabled=True, exporter="none", service_name="failover-test"))
    assert tracing.provider is not None
    tracing.provider.add_span_processor(SimpleSpanProcessor(memory))
    return tracing


def one(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    [span] = [s for s in spans if s.name == name]
    return span


def test_accept_attempt_send_form_one_trace() -> None:
    memory = InMemorySpanExporter()
    tracing = traced(memory)
    with tracing.span("message.accept", {"failover.route": "default", "x": None}) as accept:
        stored = tracing.traceparent()
        record(accept, **{"failover.message_id": 7, "failover.url": None})
    assert stored is not None
    assert re.match(TRACEPARENT, stored), stored
    assert int(stored[-2:], 16) & 1, "sampled"
    # Later, outside the acceptance's context: the attempt joins through the stored string.
    assert tracing.traceparent() is None
    with tracing.span("delivery.attempt", {"failover.attempt": 1}, parent=stored) as attempt:
        with tracing.span("channel.send", {"failover.part": 1}) as send:
            record(send, **{"failover.remote_id": "123"})
        record(attempt, **{"failover.state": "delivered"})
    tracing.shutdown()

    spans = memory.get_finished_spans()
    a, t, s = (
        one(spans, "message.accept"),
        one(spans, "delivery.attempt"),
        one(spans, "channel.send"),
    )
    assert a.parent is None
    assert a.attributes == {"failover.route": "default", "failover.message_id": 7}  # None dropped
    assert stored.split("-")[1] == format(a.context.trace_id, "032x")
    assert stored.split("-")[2] == format(a.context.span_id, "016x")
    assert t.context.trace_id == a.context.trace_id == s.context.trace_id
    assert t.parent is not None and t.parent.span_id == a.context.span_id and t.parent.is_remote
    assert s.parent is not None and s.parent.span_id == t.context.span_id
    assert (s.attributes or {})["failover.remote_id"] == "123"
    assert (t.attributes or {})["failover.state"] == "delivered"
    assert a.resource.attributes["service.name"] == "failover-test"


def test_an_attempt_after_a_restart_joins_the_stored_trace() -> None:
    before, after = InMemorySpanExporter(), InMemorySpanExporter()
    first = traced(before)
    with first.span("message.accept"):
        stored = first.traceparent()
    first.shutdown()  # the daemon stops; only the stored string survives
    second = traced(after)  # a new process: a new provider, no context in memory
    with second.span("delivery.attempt", parent=stored):
        pass
    second.shutdown()
    accept = one(before.get_finished_spans(), "message.accept")
    attempt = one(after.get_finished_spans(), "delivery.attempt")
    assert attempt.context.trace_id == accept.context.trace_id
    assert attempt.parent is not None and attempt.parent.span_id == accept.context.span_id


def test_a_failed_send_is_an_error_span_and_the_error_still_propagates() -> None:
    memory = InMemorySpanExporter()
    tracing = traced(memory)
    with pytest.raises(TimeoutError), tracing.span("channel.send"):
        raise TimeoutError("no answer within 30s")
    [span] = memory.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]


def test_an_unreadable_stored_traceparent_starts_a_new_trace() -> None:
    memory = InMemorySpanExporter()
    tracing = traced(memory)
    with tracing.span("delivery.attempt", parent="not-a-traceparent"):
        pass
    [span] = memory.get_finished_spans()
    assert span.parent is None and span.context.is_valid


def test_the_daemon_keeps_its_own_provider_not_the_global_one() -> None:
    tracing = Tracing(TracingConfig(enabled=True, exporter="none"))
    assert tracing.provider is not None
    assert trace.get_tracer_provider() is not tracing.provider


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def test_console_exporter_writes_spans_to_stdout_by_shutdown() -> None:
    # A subprocess: the exporter binds the stdout it found at import, which pytest replaced.
    out = run_python(
        """
        from failover.config import TracingConfig
        from failover.tracing import Tracing
        t = Tracing(TracingConfig(enabled=True, exporter="console"))
        with t.span("message.accept", {"failover.route": "default"}):
            pass
        t.shutdown()
        """
    )
    assert out.returncode == 0, out.stderr
    assert '"name": "message.accept"' in out.stdout and '"failover.route": "default"' in out.stdout


def test_off_imports_and_creates_nothing_of_opentelemetry() -> None:
    # A fresh interpreter: this one has imported OpenTelemetry for the tests above.
    out = run_python(
        """
        import sys
        import failover.daemon, failover.dispatcher, failover.intake
        from failover.config import TracingConfig
        from failover.tracing import Tracing, record
        t = Tracing(TracingConfig())
        with t.span("message.accept", {"a": 1}, parent="00-" + "1" * 32 + "-" + "2" * 16 + "-01") as s:
            record(s, b=2)
            assert s is None and t.traceparent() is None and t.provider is None
        t.shutdown()
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_on_without_the_extra_is_a_config_error_naming_it() -> None:
    out = run_python(
        """
        import sys
        sys.modules["opentelemetry"] = None  # as if the tracing extra were not installed
        from failover.config import TracingConfig
        from failover.errors import ConfigError
        from failover.tracing import Tracing
        try:
            Tracing(TracingConfig(enabled=True))
        except ConfigError as exc:
            print(exc.problems)
        """
    )
    assert out.returncode == 0, out.stderr
    assert "tracing.enabled" in out.stdout and "failover[tracing]" in out.stdout
