"""Panic routing, as Envoy's panic threshold: when fewer than `health.panic_threshold` percent of a
model's replicas pass their health checks, the checks are more likely wrong (probes that time out on a
loaded gateway mark live replicas down) or the few replicas left would drown, so that model's requests
are routed across all its replicas, health ignored. Passive outlier cooldowns still hold, and retries
move past a replica that is truly gone. Asked by the retry policy for each model a request tries; told
by the app when a replica's health or the routing table changes, so the gauge and the log follow
without traffic.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from infleet.gateway.metrics import GatewayMetrics
from infleet.gateway.replica import Replica
from infleet.gateway.routing_table import ModelRoute, RoutingTable

log = logging.getLogger("infleet.gateway")


def in_panic(replicas: Sequence[Replica], threshold: float) -> bool:
    """Whether the healthy share of `replicas` is below `threshold` percent. A model with no replica
    (scaled to zero) is not in panic, and a threshold of 0 never panics. External providers are never
    probed, so they count as healthy."""
    if threshold <= 0 or not replicas:
        return False
    healthy = sum(1 for replica in replicas if replica.healthy)
    return healthy * 100 < threshold * len(replicas)


class PanicMonitor:
    """Which models are in panic now; logs each entry and exit and keeps the per-model gauge."""

    def __init__(self, threshold: float, metrics: GatewayMetrics) -> None:
        self.threshold = threshold  # swapped with the configuration
        self._metrics = metrics
        self._panicking: set[str] = set()
        self._exported: set[str] = set()  # models with a gauge series

    def check(self, route: ModelRoute) -> bool:
        """Whether requests to `route` are routed in panic now. Derived from the replicas' health on
        every call, so no health change can be missed; only a change of state is logged."""
        panic = in_panic(route.replicas, self.threshold)
        if panic != (route.name in self._panicking):
            self._changed(route, panic)
        return panic

    def evaluate(self, table: RoutingTable) -> None:
        """Checks every model of `table`, exporting each one's state, and forgets the models that left."""
        names = set()
        for route in table.models():
            names.add(route.name)
            self._metrics.panic.labels(route.name).set(1 if self.check(route) else 0)
        for gone in self._exported - names:
            self._metrics.panic.remove(gone)
            if gone in self._panicking:
                self._panicking.discard(gone)
                log.info("model %r left the routing table while in panic", gone)
        self._exported = names

    def _changed(self, route: ModelRoute, panic: bool) -> None:
        healthy = sum(1 for replica in route.replicas if replica.healthy)
        total = len(route.replicas)
        if panic:
            self._panicking.add(route.name)
            log.warning(
                "model %r enters panic: %d of %d replicas pass health checks, below the panic threshold "
                "of %g%%; routing across all of them, health ignored",
                route.name,
                healthy,
                total,
                self.threshold,
            )
        else:
            self._panicking.discard(route.name)
            log.info(
                "model %r leaves panic: %d of %d replicas pass health checks (panic threshold %g%%); "
                "replicas failing them get no traffic again",
                route.name,
                healthy,
                total,
                self.threshold,
            )
        self._metrics.panic.labels(route.name).set(1 if panic else 0)
        self._exported.add(route.name)
