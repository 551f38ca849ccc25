"""OpenTelemetry traces when `tracing.otlp_endpoint` is configured: one server span per request with
model, backend and status. The OpenTelemetry SDK is optional and imported only when configured, so
the request path pays nothing when tracing is off. Called by the app at start and per request.
"""

from __future__ import annotations

import importlib
from typing import Any

from infleet.gateway.config import ConfigError, TracingConfig


class Tracer:
    """Starts spans, or does nothing when tracing is off (`enabled` False)."""

    def __init__(self, tracer: Any = None) -> None:
        self._tracer = tracer
        self.enabled = tracer is not None

    @classmethod
    def from_config(cls, config: TracingConfig) -> Tracer:
        if not config.otlp_endpoint:
            return cls()
        try:
            trace = importlib.import_module("opentelemetry.trace")
            sdk = importlib.import_module("opentelemetry.sdk.trace")
            export = importlib.import_module("opentelemetry.sdk.trace.export")
            resources = importlib.import_module("opentelemetry.sdk.resources")
            otlp = importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
        except ImportError as exc:
            raise ConfigError(
                "tracing.otlp_endpoint: the OpenTelemetry SDK is not installed; "
                "pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http"
            ) from exc
        resource = resources.Resource.create({"service.name": config.service_name})
        provider = sdk.TracerProvider(resource=resource)
        provider.add_span_processor(
            export.BatchSpanProcessor(otlp.OTLPSpanExporter(endpoint=config.otlp_endpoint))
        )
        return cls(trace.get_tracer("infleet.gateway", tracer_provider=provider))

    def start(self, name: str, attributes: dict[str, Any]) -> Any:
        """A started span (call `.end()`), or None when tracing is off."""
        if self._tracer is None:
            return None
        return self._tracer.start_span(name, attributes=attributes)
