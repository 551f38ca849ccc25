"""Node pools of simulated GPU nodes (SKU, count, instance type, cloud, region, zone, price) and the Node
objects they render, with the labels and capacity real GPU nodes carry. :func:`default_pools` is each
member's mix in ``infleet up``; prices are the catalog's per-GPU price times a regional factor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infleet.api.catalog import load_catalog
from infleet.sim.resource_kinds import GPU_RESOURCE

CLOUD_LABEL = "infleet.io/cloud"
POOL_LABEL = "infleet.io/node-pool"
PRICE_LABEL = "infleet.io/price-per-hour"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
KUBELET_VERSION = "v1.32.4-infleet-sim"

# GPU Feature Discovery writes the product as the driver names it.
_GFD_PRODUCT = {
    "T4": "Tesla-T4",
    "A100-40GB": "NVIDIA-A100-SXM4-40GB",
    "A100-80GB": "NVIDIA-A100-SXM4-80GB",
    "H100": "NVIDIA-H100-80GB-HBM3",
    "H100-NVL": "NVIDIA-H100-NVL",
}


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
    return _GFD_PRODUCT.get(sku, f"NVIDIA-{sku}")


def catalog_sku(product: str) -> str:
    """The catalog SKU behind a ``nvidia.com/gpu.product`` label (the inverse of :func:`gpu_product`)."""
    for sku, name in _GFD_PRODUCT.items():
        if name == product:
            return sku
    return product.removeprefix("NVIDIA-")


def node_manifest(
    pool: NodePool, name: str, kubelet_port: int, pod_cidr: str, regional_factor: float = 1.0
) -> dict[str, Any]:
    """The Node object for one machine of ``pool`` (status included: the kubelet registers it so)."""
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": pool.instance_type,
        "topology.kubernetes.io/region": pool.region,
        "topology.kubernetes.io/zone": pool.zone,
        "karpenter.sh/capacity-type": pool.capacity_type,
        CLOUD_LABEL: pool.cloud,
        POOL_LABEL: pool.name,
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
                "nvidia.com/gpu.present": "true",
                GPU_PRODUCT_LABEL: gpu_product(gpu.name),
                "nvidia.com/gpu.count": str(pool.gpus_per_node),
                "nvidia.com/gpu.memory": str(int(gpu.memory_gib * 1024)),
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


# Region -> (cloud, region name, zone, regional price factor, pools as (name, sku, gpus, count, instance)).
_MIXES: dict[str, tuple[str, str, str, float, list[tuple[str, str, int, int, str]]]] = {
    "us-east": (
        "aws",
        "us-east-1",
        "us-east-1a",
        1.0,
        [
            ("l40s", "L40S", 1, 2, "g6e.xlarge"),
            ("a10g", "A10G", 4, 2, "g5.12xlarge"),
            ("h100", "H100", 8, 1, "p5.48xlarge"),
        ],
    ),
    "eu-west": (
        "azure",
        "westeurope",
        "westeurope-1",
        1.1,
        [
            ("a10", "A10", 1, 2, "Standard_NV36ads_A10_v5"),
            ("a100", "A100-80GB", 2, 2, "Standard_NC48ads_A100_v4"),
            ("h100", "H100", 8, 1, "Standard_ND96isr_H100_v5"),
        ],
    ),
    "ap-southeast": (
        "gcp",
        "asia-southeast1",
        "asia-southeast1-b",
        1.15,
        [
            ("l4", "L4", 1, 3, "g2-standard-8"),
            ("a100", "A100-40GB", 8, 1, "a2-highgpu-8g"),
        ],
    ),
}


def regional_factor(cluster: str) -> float:
    return _MIXES[cluster][3] if cluster in _MIXES else 1.0


def default_pools(cluster: str) -> list[NodePool]:
    """The default GPU mix of a member cluster; unknown names get the us-east mix in their own region."""
    cloud, region, zone, _, pools = _MIXES.get(cluster, _MIXES["us-east"])
    if cluster not in _MIXES:
        region, zone = cluster, f"{cluster}-a"
    return [
        NodePool(
            name, sku, gpus, count, instance, cloud, region, zone, cpu=8 * gpus + 8, memory_gib=64 * gpus + 32
        )
        for name, sku, gpus, count, instance in pools
    ]
