"""Prometheus metrics of controllers: reconciles by result, errors, duration, queue depth and retries.

Each Manager owns a ``CollectorRegistry`` and one :class:`ControllerMetrics` in it, so several managers
(tests, ``infleet up``) can live in one process. Names follow controller-runtime's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from infleet.kube.workqueue import WorkQueue

DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _QueueCollector(Collector):
    """Reads queue figures when scraped instead of mirroring every change into gauges."""

    def __init__(self, queues: Callable[[], dict[str, WorkQueue[object]]]) -> None:
        self._queues = queues

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        depth = GaugeMetricFamily("workqueue_depth", "Keys waiting for a worker", labels=["name"])
        waiting = GaugeMetricFamily("workqueue_delayed", "Keys scheduled for later", labels=["name"])
        adds = CounterMetricFamily("workqueue_adds", "Keys added", labels=["name"])
        retries = CounterMetricFamily("workqueue_retries", "Rate-limited re-adds", labels=["name"])
        for name, queue in self._queues().items():
            depth.add_metric([name], queue.depth)
            waiting.add_metric([name], queue.waiting)
            adds.add_metric([name], queue.adds)
            retries.add_metric([name], queue.retries)
        yield from (depth, waiting, adds, retries)


class ControllerMetrics:
    """The metric families every controller of one manager reports into."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._queues: dict[str, WorkQueue[object]] = {}
        self.reconciles = Counter(
            "controller_runtime_reconcile",
            "Reconciles by controller and result (success, requeue_after, conflict, error, terminal_error)",
            ["controller", "result"],
            registry=self.registry,
        )
        self.errors = Counter(
            "controller_runtime_reconcile_errors",
            "Reconciles that raised",
            ["controller"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "controller_runtime_reconcile_time_seconds",
            "Time spent in reconcile",
            ["controller"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_QueueCollector(lambda: dict(self._queues)))

    def track_queue(self, name: str, queue: WorkQueue[object]) -> None:
        self._queues[name] = queue
