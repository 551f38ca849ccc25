"""GPU offerings a replica can be sized onto: node types present in the cluster, and provisionable shapes.

Cluster offerings come from the labels GPU Feature Discovery puts on nodes (``nvidia.com/gpu.product``,
``.count``, ``.memory``, ``node.kubernetes.io/instance-type``); provisionable ones from the catalog SKUs
in the node shapes clouds sell, for the compute layer to create. ``sizing`` reads both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from infleet.api.catalog import Catalog, GpuInfo

PRODUCT_LABEL = "nvidia.com/gpu.product"
COUNT_LABEL = "nvidia.com/gpu.count"
MEMORY_LABEL = "nvidia.com/gpu.memory"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
REGION_LABEL = "topology.kubernetes.io/region"
#: Label the compute layer puts on nodes it provisions for a catalog SKU.
SKU_LABEL = "aitoolchain.io/gpu-sku"
#: Hourly price of a whole node, where the provider (or the simulated cluster) labels it.
PRICE_LABEL = "infleet.io/price-per-hour"
GPU_RESOURCE = "nvidia.com/gpu"
#: Node shapes clouds sell per SKU (GPUs per node, an instance type), from the shared reference's
#: instance table (inference-engines.md §3.2); the compute layer provisions these.
PROVISIONABLE_SHAPES: dict[str, tuple[tuple[int, str], ...]] = {
    "T4": ((1, "g4dn.xlarge"), (4, "g4dn.12xlarge")),
    "L4": ((1, "g6.2xlarge"), (4, "g6.12xlarge"), (8, "g6.48xlarge")),
    "A10": ((1, "Standard_NV36ads_A10_v5"), (2, "Standard_NV72ads_A10_v5")),
    "A10G": ((1, "g5.xlarge"), (4, "g5.12xlarge"), (8, "g5.48xlarge")),
    "L40S": ((1, "g6e.xlarge"), (4, "g6e.12xlarge"), (8, "g6e.48xlarge")),
    "A100-40GB": ((8, "p4d.24xlarge"),),
    "A100-80GB": (
        (1, "Standard_NC24ads_A100_v4"),
        (2, "Standard_NC48ads_A100_v4"),
        (4, "Standard_NC96ads_A100_v4"),
        (8, "p4de.24xlarge"),
    ),
    "H100": ((8, "p5.48xlarge"),),
    "H100-NVL": ((1, "Standard_NC40ads_H100_v5"), (2, "Standard_NC80adis_H100_v5")),
    "H200": ((8, "p5en.48xlarge"),),
    "B200": ((8, "p6-b200.48xlarge"),),
}


@dataclass(frozen=True)
class Offering:
    """Nodes of one GPU SKU and GPU count: present in the cluster, or provisionable on demand."""

    gpu: GpuInfo
    gpus_per_node: int
    source: Literal["cluster", "provisionable"]
    nodes: int = 0
    instance_type: str | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    price_per_gpu_hour: float | None = None

    @property
    def gpu_price(self) -> float:
        return self.price_per_gpu_hour if self.price_per_gpu_hour is not None else self.gpu.price_per_gpu_hour

    def label(self) -> str:
        where = self.instance_type or f"{self.gpus_per_node}x{self.gpu.name} nodes"
        return f"{self.gpu.name} ({where}, {self.source})"


def _squash(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def gpu_for_product(catalog: Catalog, product: str, memory_mib: int | None = None) -> GpuInfo | None:
    """The catalog SKU a ``nvidia.com/gpu.product`` value names, e.g. NVIDIA-H100-80GB-HBM3 -> H100.

    The longest catalog base name inside the product wins (A100 over A10, L40S over L4); memory from the
    label or the product text picks between variants (A100 40 vs 80 GB, H100 vs H100 NVL).
    """
    squashed = _squash(product)
    by_base: dict[str, list[GpuInfo]] = {}
    for gpu in catalog.gpus:
        base = _squash(gpu.name.split("-")[0])
        by_base.setdefault(base, []).append(gpu)
    matches = [base for base in by_base if base in squashed]
    if not matches:
        return None
    variants = by_base[max(matches, key=len)]
    if len(variants) == 1:
        return variants[0]
    for gpu in variants:
        suffix = _squash(gpu.name)[len(_squash(gpu.name.split("-")[0])) :]
        if suffix and suffix in squashed:
            return gpu
    if memory_mib:
        return min(variants, key=lambda g: abs(g.memory_gib * 1024 - memory_mib))
    return min(variants, key=lambda g: len(g.name))


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(str(value)) if value is not None else None
    except ValueError:
        return None


def node_gpu(catalog: Catalog, node: Mapping[str, Any]) -> tuple[GpuInfo, int] | None:
    """The SKU and GPU count of a node, or None for a node without (known) GPUs."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    count = _int(labels.get(COUNT_LABEL)) or _int(
        ((node.get("status") or {}).get("capacity") or {}).get(GPU_RESOURCE)
    )
    product = labels.get(PRODUCT_LABEL) or labels.get(SKU_LABEL)
    if not count or not product:
        return None
    gpu = gpu_for_product(catalog, str(product), _int(labels.get(MEMORY_LABEL)))
    return (gpu, count) if gpu is not None else None


def cluster_offerings(catalog: Catalog, nodes: Iterable[Mapping[str, Any]]) -> list[Offering]:
    """One offering per (product, GPU count, instance type) among schedulable GPU nodes."""
    groups: dict[tuple[str, str, int, str | None], tuple[GpuInfo, int]] = {}
    prices: dict[tuple[str, str, int, str | None], list[float]] = {}
    for node in nodes:
        if (node.get("spec") or {}).get("unschedulable"):
            continue
        found = node_gpu(catalog, node)
        if found is None:
            continue
        labels = node["metadata"].get("labels") or {}
        label = PRODUCT_LABEL if labels.get(PRODUCT_LABEL) else SKU_LABEL
        key = (label, str(labels[label]), found[1], labels.get(INSTANCE_TYPE_LABEL))
        gpu, seen = groups.get(key, (found[0], 0))
        groups[key] = (gpu, seen + 1)
        price = _float(labels.get(PRICE_LABEL))
        if price is not None:
            prices.setdefault(key, []).append(price / found[1])
    offerings = []
    for key, (gpu, nodes_seen) in sorted(groups.items(), key=str):
        label, product, count, instance_type = key
        known = prices.get(key)
        offerings.append(
            Offering(
                gpu=gpu,
                gpus_per_node=count,
                source="cluster",
                nodes=nodes_seen,
                instance_type=instance_type,
                node_selector={label: product},
                price_per_gpu_hour=min(known) if known else None,
            )
        )
    return offerings


def provisionable_offerings(
    catalog: Catalog, shapes: Mapping[str, tuple[tuple[int, str], ...]] = PROVISIONABLE_SHAPES
) -> list[Offering]:
    """Each catalog SKU in the node shapes sold for it, selected by the label the compute layer sets."""
    return [
        Offering(
            gpu=gpu,
            gpus_per_node=count,
            source="provisionable",
            instance_type=instance_type,
            node_selector={SKU_LABEL: gpu.name},
        )
        for gpu in catalog.gpus
        for count, instance_type in shapes.get(gpu.name, ())
    ]
