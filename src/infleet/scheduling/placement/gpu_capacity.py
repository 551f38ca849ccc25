"""A member cluster's GPUs per SKU, read from its reported properties, as sizing offerings plus the free
capacity that replicas consume: single-node replicas take ``slots-<g>``, multi-node ones whole free
nodes, provisionable plans provisionable GPUs. GpuFit works on a copy per cycle and cluster.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar, cast

from infleet.api import fleet_properties as props
from infleet.api.catalog import Catalog, CatalogError, GpuInfo
from infleet.api.offerings import Offering, provisionable_offerings
from infleet.api.sizing import Plan
from infleet.scheduling.placement.cluster import ClusterCandidate

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


def slot_size(gpus: int) -> int | None:
    """The smallest reported slot size holding a replica of `gpus` GPUs on one node."""
    return next((size for size in props.SLOT_SIZES if size >= gpus), None)


@dataclass(slots=True)
class SkuCapacity:
    """Free GPUs of one SKU in one cluster; mutable so several demands consume it in turn."""

    gpu: GpuInfo
    gpus_per_node: int
    price: float | None
    total: int
    available: int
    largest_free_block: int
    free_nodes: int
    provisionable: int
    slots: dict[int, int] = field(default_factory=dict)

    def holds(self, plan: Plan, replicas: int) -> bool:
        if plan.offering.source != "cluster":
            return replicas * plan.gpus <= self.provisionable
        if plan.nodes > 1:
            return replicas * plan.nodes <= self.free_nodes
        size = slot_size(plan.gpus)
        return size is not None and replicas <= self.slots.get(size, 0)

    def consume(self, plan: Plan, replicas: int) -> None:
        """Takes what `replicas` of `plan` use. Slots of other sizes shrink conservatively: a replica in a
        slot of size s breaks at most one larger slot and exactly s/t smaller ones (sizes are powers of 2)."""
        if plan.offering.source != "cluster":
            self.provisionable -= replicas * plan.gpus
            return
        if plan.nodes > 1:
            nodes = replicas * plan.nodes
            self.free_nodes -= nodes
            self.available = max(0, self.available - nodes * self.gpus_per_node)
            for t in self.slots:
                self.slots[t] = max(0, self.slots[t] - nodes * (self.gpus_per_node // t))
            return
        size = slot_size(plan.gpus) or plan.gpus
        self.available = max(0, self.available - replicas * size)
        for t in self.slots:
            self.slots[t] = max(0, self.slots[t] - replicas * max(1, size // t))
        if self.gpus_per_node:
            self.free_nodes = min(self.free_nodes, self.available // self.gpus_per_node)

    def describe(self) -> str:
        name = self.gpu.name
        provisionable = (
            f"{self.provisionable} provisionable" if self.provisionable else "nothing provisionable"
        )
        return (
            f"has {self.available} {name} free, largest free block {self.largest_free_block}, "
            f"{self.free_nodes} free nodes, {provisionable}"
        )


def _sku_groups(cluster: ClusterCandidate) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    for name in cluster.properties:
        parsed = props.parse_sku_property(name)
        if parsed is not None:
            groups.setdefault(parsed[0], set()).add(parsed[1])
    return groups


def read_capacity(catalog: Catalog, cluster: ClusterCandidate) -> dict[str, SkuCapacity]:
    """Per catalog SKU name; SKUs the catalog does not know are skipped (nothing can be sized on them)."""
    found: dict[str, SkuCapacity] = {}
    for sku in sorted(_sku_groups(cluster)):
        try:
            gpu = catalog.gpu(sku)
        except CatalogError:
            continue

        def count(measure: str, sku: str = sku) -> int:
            return cluster.count(props.sku_property(sku, measure))

        price = cluster.quantity(props.sku_property(sku, props.SKU_GPU_HOUR_COST))
        found[gpu.name] = SkuCapacity(
            gpu=gpu,
            gpus_per_node=count(props.SKU_GPUS_PER_NODE),
            price=float(price) if price is not None and price > 0 else None,
            total=count(props.SKU_TOTAL),
            available=count(props.SKU_AVAILABLE),
            largest_free_block=count(props.SKU_LARGEST_FREE_BLOCK),
            free_nodes=count(props.SKU_FREE_NODES),
            provisionable=count(props.SKU_PROVISIONABLE),
            slots={s: count(f"{props.SKU_SLOTS_PREFIX}{s}") for s in props.SLOT_SIZES},
        )
    return found


def offerings(
    catalog: Catalog, capacity: dict[str, SkuCapacity], provisionable: list[Offering] | None = None
) -> list[Offering]:
    """Node types present (sized on all their nodes: free capacity is checked after sizing) and, where
    the cluster can still provision GPUs of a SKU, the catalog's provisionable shapes at its price
    (``provisionable``: those shapes, when the caller already has them)."""
    found: list[Offering] = []
    for cap in capacity.values():
        if cap.gpus_per_node > 0 and cap.total >= cap.gpus_per_node:
            found.append(
                Offering(
                    gpu=cap.gpu,
                    gpus_per_node=cap.gpus_per_node,
                    source="cluster",
                    nodes=cap.total // cap.gpus_per_node,
                    price_per_gpu_hour=cap.price,
                )
            )
    for shape in provisionable if provisionable is not None else provisionable_offerings(catalog):
        sku = capacity.get(shape.gpu.name)
        if sku is not None and sku.provisionable > 0:
            found.append(dataclasses.replace(shape, price_per_gpu_hour=sku.price))
    return found


ReportKey = Hashable


class CapacityCache:
    """Parsed capacity per distinct set of reported properties, whatever else is derived from a report
    alone (GpuFit's result per set of demands), and the catalog's provisionable shapes, kept across
    cycles by a long-lived scheduler. Members re-report the same numbers on every heartbeat, so without
    it every cycle parsed and sized every member again (a 1,000-member fleet: most of a cycle's time).
    Entries are keyed by the report's content, so a changed report can never read a stale one.
    """

    def __init__(self, catalog: Catalog, limit: int = 8192) -> None:
        self.catalog = catalog
        self.provisionable = provisionable_offerings(catalog)
        self._limit = limit
        self._parsed: dict[ReportKey, dict[str, SkuCapacity]] = {}
        #: Derived results per ``what``, then per report (no key tuple to build and hash per lookup).
        self._derived: dict[Hashable, dict[ReportKey, object]] = {}
        self._tokens: dict[Hashable, int] = {}
        #: Read-only views by identity (kept alive, so an id is never reused while listed).
        self._views: dict[int, tuple[Mapping[str, str], ReportKey]] = {}
        self._interned: dict[ReportKey, ReportKey] = {}

    def report_key(self, cluster: ClusterCandidate) -> ReportKey:
        """The report's content as a key. A read-only view (``MappingProxyType``, as the hub builds
        candidates, over a dict nobody else holds) cannot change, so it is keyed once by identity:
        hashing 1,000 reports' contents per cycle was itself a cost."""
        properties = cluster.properties
        if not isinstance(properties, MappingProxyType):
            return frozenset(properties.items())
        known = self._views.get(id(properties))
        if known is not None and known[0] is properties:
            return known[1]
        content = frozenset(properties.items())
        # Interned, so a report equal to one seen before (every heartbeat of an unchanged member) is
        # the very same key object: cache lookups then match by identity instead of comparing sets.
        key = _bound(self._interned, self._limit).setdefault(content, content)
        _bound(self._views, self._limit)[id(properties)] = (properties, key)
        return key

    def read(self, cluster: ClusterCandidate) -> dict[str, SkuCapacity]:
        """What :func:`read_capacity` returns, as a fresh copy the caller may consume."""
        key = self.report_key(cluster)
        parsed = self._parsed.get(key)
        if parsed is None:
            parsed = _bound(self._parsed, self._limit)[key] = read_capacity(self.catalog, cluster)
        return {name: dataclasses.replace(sku, slots=dict(sku.slots)) for name, sku in parsed.items()}

    def token(self, what: Hashable) -> int:
        """A small stand-in for ``what`` in :meth:`derived` keys, for callers that look up many
        clusters with one large ``what``. Tokens are forgotten together with every derived result."""
        found = self._tokens.get(what)
        if found is None:
            if len(self._tokens) >= self._limit:
                self._tokens.clear()
                self._derived.clear()  # results under a reused token must not outlive it
            found = self._tokens[what] = len(self._tokens)
        return found

    def derived(self, cluster: ClusterCandidate, what: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, once per distinct report and ``what``: for results that depend on nothing
        but the report, this cache's catalog and ``what`` (GpuFit: the placement's demands)."""
        by_report = self._derived.get(what)
        if by_report is None:
            by_report = _bound(self._derived, self._limit)[what] = {}
        key = self.report_key(cluster)
        found = by_report.get(key, _MISSING)
        if found is _MISSING:
            found = _bound(by_report, self._limit)[key] = compute()
        return cast(T, found)


_MISSING = object()


def _bound(entries: dict[K, V], limit: int) -> dict[K, V]:
    if len(entries) >= limit:
        entries.clear()  # a bound, not an LRU: churn this large means the fleet changed
    return entries
