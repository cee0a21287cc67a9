"""OpenTelemetry: one trace per message, from acceptance through each attempt to the receipt."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from failover.config import TracingConfig
from failover.tracing import Tracing
from tests.harness import start_daemon, write_config
from tests.peers.webhook_receiver import WebhookReceiver


def body(url: str, tracing: bool) -> str:
    return f"""
    [tracing]
    enabled = {str(tracing).lower()}
    exporter = "none"

    [channels.hook]
    type = "webhook"
    url = "{url}/hook"

    [routes.default]
    tiers = [["hook"]]
    """


async def test_spans_link_acceptance_attempts_and_receipt(tmp_path: Path) -> None:
    async with WebhookReceiver() as receiver:
        h = await start_daemon(write_config(tmp_path, body(receiver.server.url, True)))
        memory = InMemorySpanExporter()
        assert h.daemon.tracing.provider is not None
        h.daemon.tracing.provider.add_span_processor(SimpleSpanProcessor(memory))
        try:
            receiver.fail_next(1, status=503)
            m = await h.post(text="traced")
            await h.wait_state(m["id"], "delivered")
        finally:
            await h.daemon.stop()
    spans = memory.get_finished_spans()
    [accept] = [s for s in spans if s.name == "message.accept"]
    attempts = sorted(
        (s for s in spans if s.name == "delivery.attempt"),
        key=lambda s: s.attributes["failover.attempt"],  # type: ignore[index]
    )
    sends = [s for s in spans if s.name == "channel.send"]
    assert accept.attributes["failover.message_id"] == m["id"]  # type: ignore[index]
    assert [a.attributes["failover.state"] for a in attempts] == ["pending", "delivered"]  # type: ignore[index]
    for attempt in attempts:  # both attempts belong to the message's trace, under acceptance
        assert attempt.context.trace_id == accept.context.trace_id
        assert attempt.parent is not None and attempt.parent.span_id == accept.context.span_id
    assert len(sends) == 2
    assert {s.parent.span_id for s in sends if s.parent} == {a.context.span_id for a in attempts}
    ok = next(s for s in sends if s.attributes.get("failover.url"))  # type: ignore[union-attr]
    assert ok.attributes["failover.url"].startswith("https://hooks.example/")  # type: ignore[index,union-attr]


async def test_tracing_off_stores_no_trace_and_creates_no_provider(tmp_path: Path) -> None:
    assert Tracing(TracingConfig()).provider is None
    async with WebhookReceiver() as receiver:
        h = await start_daemon(write_config(tmp_path, body(receiver.server.url, False)))
        try:
            m = await h.post(text="untraced")
            await h.wait_state(m["id"], "delivered")
            stored = await h.daemon.store.message(m["id"])
            assert stored is not None and stored.traceparent is None
            assert h.daemon.tracing.provider is None
        finally:
            await h.daemon.stop()
