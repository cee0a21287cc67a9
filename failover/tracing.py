"""Optional OpenTelemetry tracing: one trace per message, from acceptance to every attempt.

Off by default, on with ``[tracing] enabled = true`` (needs the ``tracing`` extra). The
acceptance span's W3C ``traceparent`` is stored with the message, so an attempt made minutes
later, by another daemon or after a restart, still joins the message's trace. When tracing is
off nothing of OpenTelemetry is imported and every call here is a cheap no-op. The daemon owns
its own ``TracerProvider`` (never the process-global one), so embedding it stays side-effect
free.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from failover.config import TracingConfig
from failover.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span


class Tracing:
    def __init__(self, config: TracingConfig) -> None:
        self.enabled = config.enabled
        self.provider: TracerProvider | None = None
        if not self.enabled:
            return
        try:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
        except ImportError as exc:
            raise ConfigError(
                ["tracing.enabled: needs OpenTelemetry: pip install 'failover[tracing]'"]
            ) from exc
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": config.service_name})
        )
        if config.exporter == "console":
            self.provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif config.exporter == "otlp":
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )
            except ImportError as exc:
                raise ConfigError(
                    ['tracing.exporter: "otlp" needs opentelemetry-exporter-otlp-proto-http']
                ) from exc
            exporter = (
                OTLPSpanExporter(endpoint=config.endpoint)
                if config.endpoint
                else OTLPSpanExporter()
            )
            self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self._tracer = self.provider.get_tracer("failover")

    @contextmanager
    def span(
        self, name: str, attributes: Mapping[str, Any] | None = None, *, parent: str | None = None
    ) -> Iterator[Span | None]:
        """A span named ``name``; under ``parent`` (a stored traceparent) if given."""
        if self.provider is None:
            yield None
            return
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        context = (
            TraceContextTextMapPropagator().extract({"traceparent": parent}) if parent else None
        )
        clean = {k: v for k, v in (attributes or {}).items() if v is not None}
        with self._tracer.start_as_current_span(name, context=context, attributes=clean) as span:
            yield span

    def traceparent(self) -> str | None:
        """The current span's W3C traceparent, to store with what it started."""
        if self.provider is None:
            return None
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier)
        return carrier.get("traceparent")

    def shutdown(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()


def record(span: Span | None, **attributes: Any) -> None:
    """Set attributes on ``span`` if tracing is on."""
    if span is not None:
        for key, value in attributes.items():
            if value is not None:
                span.set_attribute(key, value)
