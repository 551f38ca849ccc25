"""Names of the properties a member cluster reports on its MemberCluster, as KubeFleet spells them plus
Infleet's GPU and cost properties. The member agent writes them; placement selectors and sorters, the
GPU-fit filter and ``kubectl get membercluster`` read them. Values are Kubernetes quantities as strings;
``region`` and ``cloud`` are the only non-numeric ones and are mirrored into labels for topology spread.
"""

from __future__ import annotations

# -- KubeFleet's core properties -------------------------------------------------------------------
NODE_COUNT = "kubernetes-fleet.io/node-count"
TOTAL_CPU = "resources.kubernetes-fleet.io/total-cpu"
ALLOCATABLE_CPU = "resources.kubernetes-fleet.io/allocatable-cpu"
AVAILABLE_CPU = "resources.kubernetes-fleet.io/available-cpu"
TOTAL_MEMORY = "resources.kubernetes-fleet.io/total-memory"
ALLOCATABLE_MEMORY = "resources.kubernetes-fleet.io/allocatable-memory"
AVAILABLE_MEMORY = "resources.kubernetes-fleet.io/available-memory"

# -- Infleet: GPUs, all SKUs together ----------------------------------------------------------------
GPU_PREFIX = "gpu.aitoolchain.io/"
TOTAL_GPUS = "gpu.aitoolchain.io/total"
ALLOCATABLE_GPUS = "gpu.aitoolchain.io/allocatable"
AVAILABLE_GPUS = "gpu.aitoolchain.io/available"
#: The lowest price of one GPU-hour among the cluster's GPU nodes (USD).
MIN_GPU_HOUR_COST = "cost.aitoolchain.io/min-per-gpu-hour"
REGION = "topology.aitoolchain.io/region"
CLOUD = "topology.aitoolchain.io/cloud"

#: Per-SKU measures, named ``gpu.aitoolchain.io/<sku>/<measure>`` with the catalog SKU in lower case.
SKU_TOTAL = "total"
SKU_ALLOCATABLE = "allocatable"
SKU_AVAILABLE = "available"
#: The most free GPUs of this SKU on any one node: the biggest single-node replica that fits now.
SKU_LARGEST_FREE_BLOCK = "largest-free-block"
SKU_GPUS_PER_NODE = "gpus-per-node"
SKU_GPU_HOUR_COST = "per-gpu-hour-cost"
#: Nodes of this SKU with every GPU free: what multi-node replicas can use.
SKU_FREE_NODES = "free-nodes"
#: GPUs of this SKU the cluster's compute layer could still provision (0 where it has none).
SKU_PROVISIONABLE = "provisionable"
#: ``slots-<g>``: how many replicas of g GPUs fit on the free GPUs of single nodes (sum of free // g).
SKU_SLOTS_PREFIX = "slots-"
SLOT_SIZES = (1, 2, 4, 8)


def sku_property(sku: str, measure: str) -> str:
    """``gpu.aitoolchain.io/h100/available`` for ``("H100", "available")``."""
    return f"{GPU_PREFIX}{sku.lower()}/{measure}"


def parse_sku_property(name: str) -> tuple[str, str] | None:
    """``(sku, measure)`` of a per-SKU property name, the SKU in lower case; None for other names."""
    if not name.startswith(GPU_PREFIX):
        return None
    sku, slash, measure = name[len(GPU_PREFIX) :].partition("/")
    return (sku, measure) if slash and sku and measure else None
