"""The properties and resource usage a member reports on its InternalMemberCluster, from nodes and pods.

Pure: the heartbeat passes the informers' objects in and stamps the observation time. KubeFleet's core
properties (node count, cpu, memory) plus Infleet's GPU properties, in total and per catalog SKU, the
cheapest GPU-hour, region and cloud (names of :mod:`infleet.api.fleet_properties`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from infleet.api import fleet_properties as fp
from infleet.api.catalog import Catalog
from infleet.api.labels import CLOUD_LABEL, GPU_RESOURCE, PRICE_LABEL, REGION_LABEL
from infleet.api.offerings import node_gpu
from infleet.api.quantity import format_quantity
from infleet.fleet.member.node_usage import CPU, MEMORY, TRACKED, NodeUsage, node_usage


@dataclass(frozen=True)
class ClusterProperties:
    """Property name to value (a quantity string, or a name for region and cloud) and resource lists."""

    properties: dict[str, str]
    capacity: dict[str, str]
    allocatable: dict[str, str]
    available: dict[str, str]


@dataclass
class _SkuTotals:
    total: int = 0
    allocatable: int = 0
    available: int = 0
    largest_free_block: int = 0
    gpus_per_node: int = 0
    free_nodes: int = 0
    slots: dict[int, int] = field(default_factory=lambda: dict.fromkeys(fp.SLOT_SIZES, 0))
    gpu_hour_costs: list[Decimal] = field(default_factory=list)

    def add(self, node: NodeUsage, count: int, gpu_hour_cost: Decimal) -> None:
        allocatable = int(node.allocatable.get(GPU_RESOURCE, count))
        free = (
            int(node.free(GPU_RESOURCE))
            if GPU_RESOURCE in node.allocatable
            else (count if node.usable else 0)
        )
        self.total += int(node.capacity.get(GPU_RESOURCE, count))
        self.allocatable += allocatable
        self.available += free
        self.largest_free_block = max(self.largest_free_block, free)
        self.gpus_per_node = max(self.gpus_per_node, count)
        if node.usable and allocatable > 0 and free == allocatable:
            self.free_nodes += 1
        for size in self.slots:
            self.slots[size] += free // size
        self.gpu_hour_costs.append(gpu_hour_cost)


def format_cost(value: Decimal) -> str:
    """A price as KubeFleet writes its cost properties: a decimal quantity with at most 3 places."""
    text = f"{value.quantize(Decimal('0.001'))}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _format(resource: str, value: Decimal) -> str:
    return format_quantity(value, binary=resource == MEMORY)


def _sum(nodes: Iterable[NodeUsage], resource: str, measure: str) -> Decimal:
    if measure == "available":
        return sum((n.free(resource) for n in nodes), Decimal(0))
    values = (getattr(n, measure).get(resource, Decimal(0)) for n in nodes)
    return sum(values, Decimal(0))


def _gpu_hour_cost(node: NodeUsage, count: int, catalog_price: float) -> Decimal:
    labels = (node.node.get("metadata") or {}).get("labels") or {}
    try:
        return Decimal(str(labels[PRICE_LABEL])) / count
    except (KeyError, ArithmeticError, ValueError):
        # No (valid) node price: the catalog's typical price of the SKU stands in.
        return Decimal(str(catalog_price))


def _sku_totals(nodes: list[NodeUsage], catalog: Catalog) -> dict[str, _SkuTotals]:
    skus: dict[str, _SkuTotals] = {}
    for node in nodes:
        found = node_gpu(catalog, node.node)
        if found is None:
            continue
        gpu, count = found
        skus.setdefault(gpu.name, _SkuTotals()).add(
            node, count, _gpu_hour_cost(node, count, gpu.price_per_gpu_hour)
        )
    return skus


def _sku_properties(sku: str, totals: _SkuTotals, provisionable: int) -> dict[str, str]:
    values = {
        fp.SKU_TOTAL: str(totals.total),
        fp.SKU_ALLOCATABLE: str(totals.allocatable),
        fp.SKU_AVAILABLE: str(totals.available),
        fp.SKU_LARGEST_FREE_BLOCK: str(totals.largest_free_block),
        fp.SKU_GPUS_PER_NODE: str(totals.gpus_per_node),
        fp.SKU_FREE_NODES: str(totals.free_nodes),
        fp.SKU_GPU_HOUR_COST: format_cost(min(totals.gpu_hour_costs)),
        fp.SKU_PROVISIONABLE: str(provisionable),
        **{f"{fp.SKU_SLOTS_PREFIX}{size}": str(n) for size, n in totals.slots.items()},
    }
    return {fp.sku_property(sku, measure): value for measure, value in values.items()}


def _most_common_label(nodes: Iterable[NodeUsage], label: str) -> str | None:
    values = Counter(
        str(value)
        for n in nodes
        if (value := ((n.node.get("metadata") or {}).get("labels") or {}).get(label))
    )
    if not values:
        return None
    # The majority names the cluster; ties go to the first name in order, so reports are stable.
    return min(values, key=lambda v: (-values[v], v))


def _core_properties(nodes: list[NodeUsage]) -> dict[str, str]:
    names = {
        (CPU, "capacity"): fp.TOTAL_CPU,
        (CPU, "allocatable"): fp.ALLOCATABLE_CPU,
        (CPU, "available"): fp.AVAILABLE_CPU,
        (MEMORY, "capacity"): fp.TOTAL_MEMORY,
        (MEMORY, "allocatable"): fp.ALLOCATABLE_MEMORY,
        (MEMORY, "available"): fp.AVAILABLE_MEMORY,
        (GPU_RESOURCE, "capacity"): fp.TOTAL_GPUS,
        (GPU_RESOURCE, "allocatable"): fp.ALLOCATABLE_GPUS,
        (GPU_RESOURCE, "available"): fp.AVAILABLE_GPUS,
    }
    properties = {fp.NODE_COUNT: str(len(nodes))}
    for (resource, measure), name in names.items():
        properties[name] = _format(resource, _sum(nodes, resource, measure))
    return properties


def cluster_properties(
    nodes: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
    catalog: Catalog,
    provisionable: Mapping[str, int] | None = None,
) -> ClusterProperties:
    """Everything the member reports about its capacity, from its Node and Pod objects, and what its
    NodePools could still provision per SKU (``api.provisionable``)."""
    usage = node_usage(nodes, pods)
    properties = _core_properties(usage)
    skus = _sku_totals(usage, catalog)
    provisionable = provisionable or {}
    for sku, totals in sorted(skus.items()):
        properties.update(_sku_properties(sku, totals, provisionable.get(sku, 0)))
    for sku, gpus in sorted(provisionable.items()):
        if sku not in skus:  # no node of it yet, but the compute layer can bring some
            properties[fp.sku_property(sku, fp.SKU_PROVISIONABLE)] = str(gpus)
    if skus:
        properties[fp.MIN_GPU_HOUR_COST] = format_cost(min(min(t.gpu_hour_costs) for t in skus.values()))
    for name, label in ((fp.REGION, REGION_LABEL), (fp.CLOUD, CLOUD_LABEL)):
        value = _most_common_label(usage, label)
        if value is not None:
            properties[name] = value
    lists = {
        measure: {r: _format(r, _sum(usage, r, measure)) for r in TRACKED}
        for measure in ("capacity", "allocatable", "available")
    }
    return ClusterProperties(properties, lists["capacity"], lists["allocatable"], lists["available"])
