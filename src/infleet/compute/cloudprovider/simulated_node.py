"""The Node object a simulated machine registers with: Karpenter's and GPU Feature Discovery's labels, the
``karpenter.sh/unregistered`` taint plus the pool's taints and startup taints, and capacity with the GPUs
not yet allocatable (the device plugin registers them; the simulated kubelet in ``sim`` plays it). The
simulated provider writes it the way Karpenter's kwok provider does.
"""

from __future__ import annotations

from typing import Any

from infleet.api.catalog import Catalog
from infleet.api.labels import (
    ARCH_LABEL,
    CAPACITY_TYPE_LABEL,
    CLOUD_LABEL,
    GPU_COUNT_LABEL,
    GPU_MEMORY_LABEL,
    GPU_PRESENT_LABEL,
    GPU_PRODUCT_LABEL,
    GPU_RESOURCE,
    GPU_SKU_LABEL,
    HOSTNAME_LABEL,
    INSTANCE_TYPE_LABEL,
    NODECLAIM_LABEL,
    OS_LABEL,
    PRICE_LABEL,
    REGION_LABEL,
    UNREGISTERED_TAINT,
    ZONE_LABEL,
)
from infleet.api.offerings import gfd_product
from infleet.compute.cloudprovider.provider import Instance, InstanceType, LaunchRequest


def offering_labels(instance_type: InstanceType, instance: Instance) -> dict[str, str]:
    """The labels that say what a launched instance is and where: copied onto its NodeClaim too."""
    offering = instance.offering
    return {
        INSTANCE_TYPE_LABEL: instance_type.name,
        CAPACITY_TYPE_LABEL: offering.capacity_type,
        ZONE_LABEL: offering.zone,
        REGION_LABEL: offering.region,
        CLOUD_LABEL: offering.cloud,
        PRICE_LABEL: f"{offering.price_per_hour:g}",
        GPU_SKU_LABEL: instance_type.gpu_sku,
        GPU_COUNT_LABEL: str(instance_type.gpus),
    }


def node_manifest(
    catalog: Catalog, request: LaunchRequest, instance_type: InstanceType, instance: Instance
) -> dict[str, Any]:
    gpu = catalog.gpu(instance_type.gpu_sku)
    labels = {
        **request.labels,
        **offering_labels(instance_type, instance),
        HOSTNAME_LABEL: instance.node_name,
        OS_LABEL: "linux",
        ARCH_LABEL: "amd64",
        NODECLAIM_LABEL: request.nodeclaim,
        GPU_PRESENT_LABEL: "true",
        GPU_PRODUCT_LABEL: gfd_product(gpu.name),
        GPU_MEMORY_LABEL: str(int(gpu.memory_gib * 1024)),
    }
    taints = [{"key": UNREGISTERED_TAINT, "effect": "NoExecute"}, *(dict(t) for t in request.taints)]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": instance.node_name, "labels": labels},
        "spec": {"providerID": instance.provider_id, "taints": taints},
    }


def node_status(instance_type: InstanceType) -> dict[str, Any]:
    """Capacity as the machine has it; GPUs become allocatable only once the device plugin registers."""
    capacity = {
        "cpu": str(instance_type.cpu),
        "memory": f"{instance_type.memory_gib}Gi",
        "pods": "110",
        "ephemeral-storage": "500Gi",
        GPU_RESOURCE: str(instance_type.gpus),
    }
    allocatable = {
        **capacity,
        "cpu": f"{instance_type.cpu * 1000 - 100}m",
        "memory": f"{instance_type.memory_gib * 1024 - 512}Mi",
        GPU_RESOURCE: "0",
    }
    return {"capacity": capacity, "allocatable": allocatable}
