"""Node pools of simulated GPU nodes (SKU, count, instance type, cloud, region, zone, price) and the Node
objects they render, with the labels and capacity real GPU nodes carry. :func:`default_pools` is each
member's mix in ``infleet up``; prices are the catalog's per-GPU price times a regional factor.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from infleet.api.catalog import load_catalog
from infleet.api.labels import (
    ARCH_LABEL,
    CAPACITY_TYPE_LABEL,
    CLOUD_LABEL,
    GPU_COUNT_LABEL,
    GPU_MEMORY_LABEL,
    GPU_PRESENT_LABEL,
    GPU_PRODUCT_LABEL,
    GPU_RESOURCE,
    HOSTNAME_LABEL,
    INSTANCE_TYPE_LABEL,
    NODE_POOL_LABEL,
    OS_LABEL,
    PRICE_LABEL,
    REGION_LABEL,
    ZONE_LABEL,
)
from infleet.api.offerings import GFD_PRODUCTS, gfd_product

KUBELET_VERSION = "v1.32.4-infleet-sim"


@dataclass(frozen=True)
class NodePool:
    """``count`` identical nodes; ``gpu`` is a catalog SKU name (empty for CPU-only nodes)."""

    name: str
    gpu: str
    gpus_per_node: int
    count: int
    instance_type: str
    cloud: str
    region: str
    zone: str
    cpu: int = 32
    memory_gib: int = 256
    price_per_hour: float | None = None  # None: catalog price per GPU x GPUs x regional factor
    capacity_type: str = "on-demand"
    taints: tuple[dict[str, str], ...] = ()
    labels: dict[str, str] = field(default_factory=dict)

    def node_names(self, cluster: str) -> list[str]:
        return [f"{cluster}-{self.name}-{index}" for index in range(self.count)]

    def hourly_price(self, regional_factor: float = 1.0) -> float:
        if self.price_per_hour is not None:
            return self.price_per_hour
        if not self.gpu:
            return round(0.05 * self.cpu * regional_factor, 4)
        gpu = load_catalog().gpu(self.gpu)
        return round(gpu.price_per_gpu_hour * self.gpus_per_node * regional_factor, 4)


def gpu_product(sku: str) -> str:
    return gfd_product(sku)


def catalog_sku(product: str) -> str:
    """The catalog SKU behind a ``nvidia.com/gpu.product`` label (the inverse of :func:`gpu_product`)."""
    for sku, name in GFD_PRODUCTS.items():
        if name == product:
            return sku
    return product.removeprefix("NVIDIA-")


def node_manifest(
    pool: NodePool, name: str, kubelet_port: int, pod_cidr: str, regional_factor: float = 1.0
) -> dict[str, Any]:
    """The Node object for one machine of ``pool`` (status included: the kubelet registers it so)."""
    labels = {
        HOSTNAME_LABEL: name,
        OS_LABEL: "linux",
        ARCH_LABEL: "amd64",
        INSTANCE_TYPE_LABEL: pool.instance_type,
        REGION_LABEL: pool.region,
        ZONE_LABEL: pool.zone,
        CAPACITY_TYPE_LABEL: pool.capacity_type,
        CLOUD_LABEL: pool.cloud,
        NODE_POOL_LABEL: pool.name,
        PRICE_LABEL: f"{pool.hourly_price(regional_factor):g}",
        **pool.labels,
    }
    capacity = {
        "cpu": str(pool.cpu),
        "memory": f"{pool.memory_gib}Gi",
        "pods": "110",
        "ephemeral-storage": "500Gi",
    }
    allocatable = {
        **capacity,
        "cpu": f"{pool.cpu * 1000 - 100}m",
        "memory": f"{pool.memory_gib * 1024 - 512}Mi",
    }
    if pool.gpu:
        gpu = load_catalog().gpu(pool.gpu)
        labels.update(
            {
                GPU_PRESENT_LABEL: "true",
                GPU_PRODUCT_LABEL: gpu_product(gpu.name),
                GPU_COUNT_LABEL: str(pool.gpus_per_node),
                GPU_MEMORY_LABEL: str(int(gpu.memory_gib * 1024)),
            }
        )
        capacity[GPU_RESOURCE] = allocatable[GPU_RESOURCE] = str(pool.gpus_per_node)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "providerID": f"sim://{pool.cloud}/{pool.region}/{name}",
            "podCIDR": pod_cidr,
            "taints": [dict(t) for t in pool.taints],
        },
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
            "nodeInfo": {
                "kubeletVersion": KUBELET_VERSION,
                "containerRuntimeVersion": "sim://1.0",
                "osImage": "Infleet simulated node",
                "kernelVersion": "sim",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "machineID": name,
                "systemUUID": name,
                "bootID": name,
                "kubeProxyVersion": KUBELET_VERSION,
            },
        },
    }


class _PoolEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    instance_type: str
    count: int = Field(gt=0)


class _ClusterMix(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    cloud: str
    region: str
    zone: str
    price_factor: float = Field(gt=0)
    pools: tuple[_PoolEntry, ...]


@functools.cache
def _mixes() -> dict[str, _ClusterMix]:
    text = resources.files(__package__).joinpath("default_node_pools.yaml").read_text(encoding="utf-8")
    clusters = (yaml.safe_load(text) or {}).get("clusters") or {}
    return {name: _ClusterMix.model_validate(mix) for name, mix in clusters.items()}


def regional_factor(cluster: str) -> float:
    mix = _mixes().get(cluster)
    return mix.price_factor if mix is not None else 1.0


def pool_of_instance_type(name: str, instance_type: str, count: int, region: str, zone: str) -> NodePool:
    """``count`` nodes of a catalog instance type, sized the way the simulated clusters size GPU nodes."""
    shape = load_catalog().instance_type(instance_type)
    gpus = shape.gpus
    return NodePool(
        name,
        shape.gpu,
        gpus,
        count,
        shape.name,
        shape.cloud,
        region,
        zone,
        cpu=8 * gpus + 8,
        memory_gib=64 * gpus + 32,
    )


def default_pools(cluster: str) -> list[NodePool]:
    """The default GPU mix of a member cluster; unknown names get the us-east mix in their own region."""
    mixes = _mixes()
    mix = mixes.get(cluster, mixes["us-east"])
    region, zone = (mix.region, mix.zone) if cluster in mixes else (cluster, f"{cluster}-a")
    return [pool_of_instance_type(p.name, p.instance_type, p.count, region, zone) for p in mix.pools]
