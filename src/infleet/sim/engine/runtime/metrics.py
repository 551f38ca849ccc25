"""Prometheus metrics of one simulated engine under vLLM's names, in its own CollectorRegistry.

The engine runtime feeds counts and latencies; ``/metrics`` renders them. Gauges and counters are
read from the scheduler at scrape time and histograms are plain bucket arrays, so the per-step cost
is a few additions (the GIE picker scrapes every 50 ms and thousands of tokens flow per second).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from infleet.api import engine_metrics as em
from infleet.api.engine_metrics import VLLM
from infleet.sim.engine.model.performance import StepShape
from infleet.sim.engine.model.sequence import Sequence

TTFT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
    2560.0,
)
ITL_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
)
REQUEST_BUCKETS = (
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    120.0,
    240.0,
    480.0,
    960.0,
    1920.0,
    7680.0,
)
ITERATION_BUCKETS = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)


def one_two_five(limit: int) -> tuple[float, ...]:
    """vLLM's 1-2-5 bucket series up to ``limit`` (token-count histograms)."""
    out: list[float] = []
    scale = 1
    while True:
        for m in (1, 2, 5):
            if m * scale > limit:
                return tuple(out)
            out.append(float(m * scale))
        scale *= 10


@dataclass
class Histogram:
    """Cumulative-on-render bucket counts; ``observe(value, count)`` records many equal samples at once."""

    name: str
    doc: str
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, value: float, count: int = 1) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += count
        self.total += value * count

    def family(self, labels: dict[str, str]) -> HistogramMetricFamily:
        fam = HistogramMetricFamily(self.name, self.doc, labels=list(labels))
        running = 0
        cumulative: list[tuple[str, float]] = []
        for edge, n in zip(self.buckets, self.counts, strict=False):
            running += n
            cumulative.append((repr(float(edge)), running))
        running += self.counts[-1]
        cumulative.append(("+Inf", running))
        fam.add_metric(list(labels.values()), cumulative, self.total)
        return fam


@dataclass
class CounterValues:
    """Snapshot source for the counters; the engine fills it from scheduler stats at scrape time."""

    prompt_tokens: int = 0
    generation_tokens: int = 0
    prefix_queries: int = 0
    prefix_hits: int = 0
    preemptions: int = 0
    success: dict[str, int] = field(default_factory=dict)
    rejected: int = 0


@dataclass
class GaugeValues:
    running: int = 0
    waiting: int = 0
    kv_usage: float = 0.0


class EngineMetrics:
    """All metrics of one engine; ``render()`` gives the exposition text."""

    def __init__(
        self,
        model_name: str,
        cache_info: dict[str, str],
        max_model_len: int,
        read_gauges: Callable[[], GaugeValues],
        read_counters: Callable[[], CounterValues],
    ) -> None:
        self.labels = {"model_name": model_name, "engine": "0"}
        self.cache_info = cache_info
        self._read_gauges = read_gauges
        self._read_counters = read_counters
        tokens = one_two_five(max_model_len)
        self.ttft = Histogram(VLLM.time_to_first_token, "Time to first token.", TTFT_BUCKETS)
        self.itl = Histogram(em.VLLM_INTER_TOKEN_LATENCY, "Inter-token latency.", ITL_BUCKETS)
        self.tpot = Histogram(
            em.VLLM_TIME_PER_OUTPUT_TOKEN, "Time per output token (deprecated).", ITL_BUCKETS
        )
        self.e2e = Histogram(em.VLLM_E2E_REQUEST_LATENCY, "End-to-end request latency.", REQUEST_BUCKETS)
        self.queue = Histogram(em.VLLM_REQUEST_QUEUE_TIME, "Time spent waiting.", REQUEST_BUCKETS)
        self.inference = Histogram(em.VLLM_REQUEST_INFERENCE_TIME, "Time spent running.", REQUEST_BUCKETS)
        self.prefill = Histogram(em.VLLM_REQUEST_PREFILL_TIME, "Time in prefill.", REQUEST_BUCKETS)
        self.decode = Histogram(em.VLLM_REQUEST_DECODE_TIME, "Time in decode.", REQUEST_BUCKETS)
        self.prompt_len = Histogram(em.VLLM_REQUEST_PROMPT_TOKENS, "Prompt tokens per request.", tokens)
        self.gen_len = Histogram(em.VLLM_REQUEST_GENERATION_TOKENS, "Generated tokens per request.", tokens)
        self.iteration = Histogram(em.VLLM_ITERATION_TOKENS, "Tokens per engine step.", ITERATION_BUCKETS)
        self.histograms = (
            self.ttft,
            self.itl,
            self.tpot,
            self.e2e,
            self.queue,
            self.inference,
            self.prefill,
            self.decode,
            self.prompt_len,
            self.gen_len,
            self.iteration,
        )
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def observe_steps(self, shapes: list[StepShape], start: float, ends: list[float]) -> None:
        """Record the steps of a run that began at ``start``; step ``i`` ended at ``ends[i]``."""
        before = start
        for shape, end in zip(shapes, ends, strict=True):
            self.iteration.observe(shape.decode_seqs + shape.prefill_tokens)
            if shape.decode_seqs:
                self.itl.observe(end - before, shape.decode_seqs)
                self.tpot.observe(end - before, shape.decode_seqs)
            before = end

    def observe_end(self, seq: Sequence) -> None:
        """Record a sequence that ended; one aborted before it finished has no request latencies."""
        if seq.finished_time is None:
            return
        self.e2e.observe(seq.finished_time - seq.arrival)
        self.prompt_len.observe(seq.prompt_len)
        self.gen_len.observe(seq.num_output)
        if seq.first_scheduled is not None and seq.first_token_time is not None:
            self.queue.observe(seq.first_scheduled - seq.arrival)
            self.inference.observe(seq.finished_time - seq.first_scheduled)
            self.prefill.observe(seq.first_token_time - seq.first_scheduled)
            self.decode.observe(seq.finished_time - seq.first_token_time)

    def collect(self) -> Iterable[Metric]:
        names = list(self.labels)
        values = list(self.labels.values())
        g = self._read_gauges()
        for name, doc, value in (
            (VLLM.running, "Requests in the running batch.", float(g.running)),
            (VLLM.waiting, "Requests waiting to be scheduled.", float(g.waiting)),
            (VLLM.kv_usage[0], "KV-cache usage, 0-1.", g.kv_usage),
        ):
            fam = GaugeMetricFamily(name, doc, labels=names)
            fam.add_metric(values, value)
            yield fam
        info = GaugeMetricFamily(
            VLLM.cache_config_info, "Information of the cache config.", labels=list(self.cache_info)
        )
        info.add_metric(list(self.cache_info.values()), 1.0)
        yield info
        c = self._read_counters()
        for name, doc, total in (
            (VLLM.prompt_tokens, "Prefill tokens processed.", c.prompt_tokens),
            (VLLM.generation_tokens, "Generation tokens processed.", c.generation_tokens),
            (em.VLLM_PREFIX_CACHE_QUERIES, "Prefix-cache queries, in tokens.", c.prefix_queries),
            (em.VLLM_PREFIX_CACHE_HITS, "Prefix-cache hits, in tokens.", c.prefix_hits),
            (em.VLLM_NUM_PREEMPTIONS, "Preemptions.", c.preemptions),
        ):
            counter = CounterMetricFamily(name, doc, labels=names)
            counter.add_metric(values, float(total))
            yield counter
        success = CounterMetricFamily(VLLM.requests, "Finished requests.", labels=[*names, "finished_reason"])
        for reason in sorted(set(c.success) | {"stop", "length", "abort"}):
            success.add_metric([*values, reason], float(c.success.get(reason, 0)))
        yield success
        rejected = CounterMetricFamily(
            em.KAITO_RATELIMIT_REJECTED, "Requests rejected with 429.", labels=names
        )
        rejected.add_metric(values, float(c.rejected))
        yield rejected
        for hist in self.histograms:
            yield hist.family(self.labels)

    def render(self) -> bytes:
        return generate_latest(self.registry)
