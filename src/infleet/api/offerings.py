"""GPU offerings a replica can be sized onto: node types present in the cluster, and provisionable shapes.

Cluster offerings come from the labels GPU Feature Discovery puts on nodes (``nvidia.com/gpu.product``,
``.count``, ``.memory``, ``node.kubernetes.io/instance-type``); provisionable ones from the catalog SKUs
in the catalog's instance types the compute layer can create. ``sizing`` reads both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from infleet.api.catalog import Catalog, GpuInfo
from infleet.api.labels import (
    GPU_COUNT_LABEL,
    GPU_MEMORY_LABEL,
    GPU_PRODUCT_LABEL,
    GPU_RESOURCE,
    GPU_SKU_LABEL,
    INSTANCE_TYPE_LABEL,
    PRICE_LABEL,
)

# GPU Feature Discovery writes the product as the driver names it.
GFD_PRODUCTS = {
    "T4": "Tesla-T4",
    "A100-40GB": "NVIDIA-A100-SXM4-40GB",
    "A100-80GB": "NVIDIA-A100-SXM4-80GB",
    "H100": "NVIDIA-H100-80GB-HBM3",
    "H100-NVL": "NVIDIA-H100-NVL",
}


def gfd_product(sku: str) -> str:
    """The ``nvidia.com/gpu.product`` value a node with GPUs of catalog SKU ``sku`` carries."""
    return GFD_PRODUCTS.get(sku, f"NVIDIA-{sku}")


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
    count = _int(labels.get(GPU_COUNT_LABEL)) or _int(
        ((node.get("status") or {}).get("capacity") or {}).get(GPU_RESOURCE)
    )
    product = labels.get(GPU_PRODUCT_LABEL) or labels.get(GPU_SKU_LABEL)
    if not count or not product:
        return None
    gpu = gpu_for_product(catalog, str(product), _int(labels.get(GPU_MEMORY_LABEL)))
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
        label = GPU_PRODUCT_LABEL if labels.get(GPU_PRODUCT_LABEL) else GPU_SKU_LABEL
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


def provisionable_offerings(catalog: Catalog) -> list[Offering]:
    """Each catalog SKU in the provisionable instance types sold for it, selected by the label the
    compute layer sets on the nodes it creates."""
    return [
        Offering(
            gpu=gpu,
            gpus_per_node=shape.gpus,
            source="provisionable",
            instance_type=shape.name,
            node_selector={GPU_SKU_LABEL: gpu.name},
        )
        for gpu in catalog.gpus
        for shape in catalog.instance_types
        if shape.provisionable and shape.gpu == gpu.name
    ]
