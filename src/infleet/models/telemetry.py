"""Serving telemetry: scrape each ready replica's vLLM ``/metrics``, turn counters into rates and
histograms into TTFT quantiles, and aggregate per ModelDeployment.

The reconciler registers each deployment's ready endpoints with :class:`TelemetryScraper` (a Runnable of
the Manager); figures land in status.serving, drive the autoscaler, and are exported as the controller's
own Prometheus metrics by :class:`TelemetryCollector`. Reads vLLM names and their older aliases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import httpx
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from infleet.api import engine_metrics
from infleet.api.aitoolchain_io.v1.model_deployment import Serving
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.conditions import timestamp

log = logging.getLogger(__name__)

# Each figure under every engine's name (vLLM first, then its older names and SGLang's), so a deployment
# on either engine reports the same figures.
_KV = engine_metrics.KV_USAGE
_TTFT = tuple(engine_metrics.bucket(names.time_to_first_token) for names in engine_metrics.ENGINES)
_SUMS = {
    "requests": tuple(engine_metrics.total(names.requests) for names in engine_metrics.ENGINES),
    "generation_tokens": tuple(
        engine_metrics.total(names.generation_tokens) for names in engine_metrics.ENGINES
    ),
    "prompt_tokens": tuple(engine_metrics.total(names.prompt_tokens) for names in engine_metrics.ENGINES),
    "running": engine_metrics.RUNNING,
    "waiting": engine_metrics.WAITING,
}


@dataclass(frozen=True)
class EngineSample:
    """One scrape of one engine."""

    at: float
    requests: float = 0.0
    generation_tokens: float = 0.0
    prompt_tokens: float = 0.0
    running: float = 0.0
    waiting: float = 0.0
    kv_usage: float = 0.0
    ttft_buckets: Mapping[float, float] = field(default_factory=dict)


def parse_metrics(text: str, at: float) -> EngineSample:
    """The figures the model layer reads from a vLLM (or SGLang) exposition, summed over label sets."""
    sums: dict[str, float] = {}
    buckets: dict[float, float] = {}
    kv_values: list[float] = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in _TTFT:
                bound = float(sample.labels.get("le", "inf"))
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
            elif sample.name in _KV:
                kv_values.append(sample.value)
            else:
                sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
    figures = {
        field_name: next((sums[name] for name in names if name in sums), 0.0)
        for field_name, names in _SUMS.items()
    }
    return EngineSample(at=at, kv_usage=max(kv_values) if kv_values else 0.0, ttft_buckets=buckets, **figures)


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus' histogram_quantile over cumulative buckets (linear inside the bucket)."""
    ordered = sorted(buckets.items())
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower
            span = count - below
            return lower + (bound - lower) * ((rank - below) / span if span > 0 else 0.0)
        lower, below = bound, count
    return lower


@dataclass(frozen=True)
class ReplicaWindow:
    """Rates and deltas of one replica between two scrapes (or since start on the first)."""

    requests_per_second: float
    tokens_per_second: float
    running: float
    waiting: float
    kv_usage: float
    ttft_buckets: Mapping[float, float]


def window(previous: EngineSample | None, current: EngineSample) -> ReplicaWindow:
    elapsed = current.at - previous.at if previous is not None else 0.0
    rates = previous is not None and elapsed > 0 and current.requests >= previous.requests  # no restart

    def rate(now: float, before: float) -> float:
        return max(0.0, now - before) / elapsed if rates else 0.0

    base = previous.ttft_buckets if rates and previous is not None else {}
    deltas = {le: max(0.0, count - base.get(le, 0.0)) for le, count in current.ttft_buckets.items()}
    return ReplicaWindow(
        requests_per_second=rate(current.requests, previous.requests if previous else 0.0),
        tokens_per_second=rate(current.generation_tokens, previous.generation_tokens if previous else 0.0),
        running=current.running,
        waiting=current.waiting,
        kv_usage=current.kv_usage,
        ttft_buckets=deltas,
    )


def aggregate(windows: list[ReplicaWindow], at: float) -> Serving:
    """Deployment figures: rates and queues summed, KV usage averaged, TTFT from the merged histogram."""
    merged: dict[float, float] = {}
    for item in windows:
        for le, count in item.ttft_buckets.items():
            merged[le] = merged.get(le, 0.0) + count
    p50, p95 = histogram_quantile(0.5, merged), histogram_quantile(0.95, merged)
    count = len(windows)
    return Serving(
        requests_per_second=round(sum(w.requests_per_second for w in windows), 3),
        tokens_per_second=round(sum(w.tokens_per_second for w in windows), 1),
        ttft_p50_seconds=round(p50, 4) if p50 is not None else None,
        ttft_p95_seconds=round(p95, 4) if p95 is not None else None,
        kv_cache_usage=round(sum(w.kv_usage for w in windows) / count, 4) if count else 0.0,
        queue_depth=sum(w.waiting for w in windows),
        running_requests=sum(w.running for w in windows),
        scraped_at=timestamp(at),
    )


class TelemetryScraper:
    """Scrapes registered endpoints every ``interval`` seconds; ``on_update(key)`` fires after each round.

    Rates and TTFT quantiles are taken over the last ``rate_window`` seconds, as Prometheus' ``rate()``
    over a range; gauges (queue, running, KV usage) are the latest values.
    """

    def __init__(
        self,
        interval: float = 5.0,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        on_update: Callable[[str], None] | None = None,
        timeout: float = 2.0,
        rate_window: float = 30.0,
    ) -> None:
        self.interval = interval
        self.rate_window = rate_window
        self.clock = clock or SystemClock()
        self.on_update = on_update
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout)
        self._targets: dict[str, dict[str, str]] = {}
        self._history: dict[tuple[str, str], deque[EngineSample]] = {}
        self.serving: dict[str, Serving] = {}
        self.replicas: dict[str, int] = {}

    def set_targets(self, key: str, endpoints: Mapping[str, str]) -> None:
        """The ready replicas (pod name -> base URL) of deployment ``key`` (namespace/name)."""
        if endpoints:
            self._targets[key] = dict(endpoints)
        else:
            self.forget(key)

    def forget(self, key: str) -> None:
        self._targets.pop(key, None)
        self.serving.pop(key, None)
        self.replicas.pop(key, None)
        for pair in [pair for pair in self._history if pair[0] == key]:
            del self._history[pair]

    async def _scrape(self, url: str) -> str | None:
        try:
            response = await self._client.get(f"{url.rstrip('/')}/metrics")
        except httpx.HTTPError as error:
            log.debug("scrape %s failed: %s", url, error)
            return None
        return response.text if response.status_code == 200 else None

    async def scrape_once(self) -> None:
        """One round over every registered deployment."""
        for key, endpoints in list(self._targets.items()):
            names = list(endpoints)
            texts = await asyncio.gather(*(self._scrape(endpoints[name]) for name in names))
            now = self.clock.now()
            windows = []
            for name, text in zip(names, texts, strict=True):
                if text is None:
                    continue
                try:
                    sample = parse_metrics(text, now)
                except ValueError:
                    log.warning("deployment %s: replica %s served unparsable /metrics", key, name)
                    continue
                history = self._history.setdefault((key, name), deque())
                if history and sample.requests < history[-1].requests:
                    history.clear()  # the engine restarted: its counters began again
                history.append(sample)
                while len(history) > 2 and now - history[1].at >= self.rate_window:
                    history.popleft()
                windows.append(window(history[0] if len(history) > 1 else None, sample))
            if key not in self._targets or not windows:
                continue  # forgotten while scraping, or no replica answered: nothing new to say
            self.serving[key] = aggregate(windows, self.clock.wall())
            self.replicas[key] = len(windows)
            if self.on_update is not None:
                self.on_update(key)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                await self.scrape_once()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval)
        finally:
            await self._client.aclose()


class TelemetryCollector(Collector):
    """The scraped figures as the controller's Prometheus metrics, one series per deployment."""

    def __init__(self, scraper: TelemetryScraper, cluster: str = "") -> None:
        self.scraper = scraper
        self.cluster = cluster

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["cluster", "namespace", "name"]
        families = {
            "requests_per_second": GaugeMetricFamily(
                "infleet_model_requests_per_second", "Finished requests per second", labels=labels
            ),
            "tokens_per_second": GaugeMetricFamily(
                "infleet_model_generation_tokens_per_second", "Generated tokens per second", labels=labels
            ),
            "kv_cache_usage": GaugeMetricFamily(
                "infleet_model_kv_cache_usage", "Mean KV-cache usage of ready replicas (0-1)", labels=labels
            ),
            "queue_depth": GaugeMetricFamily(
                "infleet_model_queue_depth", "Requests waiting across replicas", labels=labels
            ),
        }
        ttft = GaugeMetricFamily(
            "infleet_model_ttft_seconds", "Time to first token", labels=[*labels, "quantile"]
        )
        for key, serving in self.scraper.serving.items():
            namespace, _, name = key.partition("/")
            for field_name, family in families.items():
                family.add_metric([self.cluster, namespace, name], float(getattr(serving, field_name)))
            for quantile, value in (("0.5", serving.ttft_p50_seconds), ("0.95", serving.ttft_p95_seconds)):
                if value is not None:
                    ttft.add_metric([self.cluster, namespace, name, quantile], value)
        yield from families.values()
        yield ttft
