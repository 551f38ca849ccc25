"""Prometheus metrics of the gateway, in its own registry: requests by model/backend/status, TTFT,
end-to-end and gateway-overhead histograms, tokens, retries, fallbacks, rejections, upstream
health (and probes its own late loop made time out), panic routing, prefix-cache feedback, and scale
from zero (requests held, wakes, time to wake). Labelled children are cached because `labels()` is
the costly part on the request path.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_WAKE = (0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
_OVERHEAD = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "infleet_gateway_requests", "Requests answered", ["model", "backend", "status"], registry=r
        )
        self.e2e = Histogram(
            "infleet_gateway_request_duration_seconds",
            "End-to-end time",
            ["model"],
            buckets=_LATENCY,
            registry=r,
        )
        self.ttft = Histogram(
            "infleet_gateway_time_to_first_token_seconds",
            "Time to first streamed byte",
            ["model"],
            buckets=_LATENCY,
            registry=r,
        )
        self.overhead = Histogram(
            "infleet_gateway_overhead_seconds",
            "Time spent in the gateway itself",
            buckets=_OVERHEAD,
            registry=r,
        )
        self.tokens = Counter("infleet_gateway_tokens", "Tokens by kind", ["model", "kind"], registry=r)
        self.retries = Counter("infleet_gateway_retries", "Retried attempts", ["model"], registry=r)
        self.fallbacks = Counter(
            "infleet_gateway_fallbacks", "Requests served by a fallback", ["model", "to"], registry=r
        )
        self.rejections = Counter("infleet_gateway_rejections", "Requests refused", ["reason"], registry=r)
        self.healthy = Gauge(
            "infleet_gateway_upstream_healthy", "1 if the replica passes checks", ["backend"], registry=r
        )
        self.health_late = Counter(
            "infleet_gateway_health_checks_late",
            "Health probes that timed out while the gateway's own event loop was late, sent again "
            "rather than counted: a rising rate means the gateway is starved of CPU",
            registry=r,
        )
        self.panic = Gauge(
            "infleet_gateway_panic",
            "1 while fewer of the model's replicas pass health checks than health.panic_threshold asks: "
            "routed across all of them, health ignored",
            ["model"],
            registry=r,
        )
        self.panic_routed = Counter(
            "infleet_gateway_panic_routed",
            "Requests routed while their model was in panic (Envoy's lb_healthy_panic)",
            ["model"],
            registry=r,
        )
        self.outstanding = Gauge(
            "infleet_gateway_upstream_outstanding", "In-flight requests", ["backend"], registry=r
        )
        self.held = Gauge(
            "infleet_gateway_held_requests",
            "Requests waiting for a model to wake from zero",
            ["model"],
            registry=r,
        )
        self.wakes = Counter(
            "infleet_gateway_wakes", "Wakes sent to a model's ModelDeployments", ["model"], registry=r
        )
        self.wake_duration = Histogram(
            "infleet_gateway_wake_duration_seconds",
            "From a model's first wake to a routing table with a ready replica",
            ["model"],
            buckets=_WAKE,
            registry=r,
        )
        self.prefix_feedback_total = Counter(
            "infleet_gateway_prefix_cache_feedback",
            "Answers whose reported cached tokens confirmed (hit) or corrected (evicted) the prefix index",
            ["result"],
            registry=r,
        )
        self._prefix_feedback = {v: self.prefix_feedback_total.labels(v) for v in ("hit", "evicted")}
        self._requests: dict[tuple[str, str, int], Counter] = {}
        self._e2e: dict[str, Histogram] = {}
        self._ttft: dict[str, Histogram] = {}

    def observe(self, model: str, backend: str, status: int, e2e: float, overhead: float) -> None:
        key = (model, backend, status)
        child = self._requests.get(key)
        if child is None:
            child = self._requests[key] = self.requests.labels(model, backend, str(status))
        child.inc()
        hist = self._e2e.get(model)
        if hist is None:
            hist = self._e2e[model] = self.e2e.labels(model)
        hist.observe(e2e)
        self.overhead.observe(overhead)

    def prefix_feedback(self, verdict: str) -> None:
        self._prefix_feedback[verdict].inc()

    def observe_ttft(self, model: str, seconds: float) -> None:
        hist = self._ttft.get(model)
        if hist is None:
            hist = self._ttft[model] = self.ttft.labels(model)
        hist.observe(seconds)

    def count_tokens(self, model: str, usage: dict[str, object]) -> int:
        """Counts usage; returns total tokens for TPM charging."""
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens")
        total = 0
        if isinstance(prompt, int):
            self.tokens.labels(model, "prompt").inc(prompt)
            total += prompt
        if isinstance(completion, int):
            self.tokens.labels(model, "completion").inc(completion)
            total += completion
        return total

    def render(self) -> bytes:
        return generate_latest(self.registry)
