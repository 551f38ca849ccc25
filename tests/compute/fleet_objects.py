"""NodePools, NodeClaims with their Nodes, and pods written straight into an API server, standing in for
the provisioner, the NodeClaim lifecycle, a kubelet and a scheduler (tests and the benchmark)."""

from __future__ import annotations

from typing import Any

from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FLEX_NODE_CLASS
from infleet.api.karpenter_sh.v1.node_claim import INITIALIZED, NODE_CLAIM
from infleet.api.karpenter_sh.v1.node_pool import NODE_POOL
from infleet.api.kubernetes import NODE, POD
from infleet.api.labels import (
    CAPACITY_TYPE_LABEL,
    GPU_RESOURCE,
    GPU_SKU_LABEL,
    INSTANCE_TYPE_LABEL,
    NODECLAIM_LABEL,
    NODEPOOL_LABEL,
    PRICE_LABEL,
    TERMINATION_FINALIZER,
    ZONE_LABEL,
)
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import timestamp

NODE_CLASS = "flex"


async def create_node_class(client: ClusterClient) -> None:
    spec = {"clouds": [{"name": "fake"}]}
    await client.create(
        FLEX_NODE_CLASS, {"metadata": {"name": NODE_CLASS}, "spec": spec} | _kind(FLEX_NODE_CLASS)
    )


def _kind(kind: Any) -> dict[str, str]:
    return {"apiVersion": kind.api_version, "kind": kind.kind}


async def create_pool(client: ClusterClient, name: str = "gpu", **disruption: Any) -> None:
    """A NodePool; keyword arguments go to ``spec.disruption`` (``warmBuffer`` to the spec)."""
    warm = disruption.pop("warmBuffer", None)
    spec: dict[str, Any] = {
        "template": {
            "spec": {
                "nodeClassRef": {
                    "group": "compute.aitoolchain.io",
                    "kind": "FlexNodeClass",
                    "name": NODE_CLASS,
                }
            }
        },
        "disruption": {"consolidateAfter": "0s", **disruption},
    }
    if warm is not None:
        spec["warmBuffer"] = warm
    await client.create(NODE_POOL, {"metadata": {"name": name}, "spec": spec} | _kind(NODE_POOL))


async def create_node(
    client: ClusterClient,
    name: str,
    gpus: int,
    price: float,
    *,
    pool: str = "gpu",
    instance_type: str = "gpu-8x",
    capacity_type: str = "on-demand",
    initialized: bool = True,
    annotations: dict[str, str] | None = None,
    claim_spec: dict[str, Any] | None = None,
    claim_annotations: dict[str, str] | None = None,
) -> None:
    """A NodeClaim with the termination finalizer and its registered, initialized Node."""
    labels = {
        NODEPOOL_LABEL: pool,
        INSTANCE_TYPE_LABEL: instance_type,
        CAPACITY_TYPE_LABEL: capacity_type,
        ZONE_LABEL: "us-east-a",
        GPU_SKU_LABEL: "H100",
    }
    spec = claim_spec or {
        "nodeClassRef": {"group": "compute.aitoolchain.io", "kind": "FlexNodeClass", "name": NODE_CLASS}
    }
    claim = {
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": claim_annotations or {},
            "finalizers": [TERMINATION_FINALIZER],
        },
        "spec": spec,
    }
    await client.create(NODE_CLAIM, claim | _kind(NODE_CLAIM))
    allocatable = {GPU_RESOURCE: str(gpus), "cpu": str(gpus * 8), "memory": f"{gpus * 64}Gi"}
    node_labels = {**labels, NODECLAIM_LABEL: name, PRICE_LABEL: f"{price}"}
    node = {
        "metadata": {"name": name, "labels": node_labels, "annotations": annotations or {}},
        "spec": {"providerID": f"fake://{name}"},
        "status": {"allocatable": allocatable, "capacity": allocatable},
    }
    await client.create(NODE, node | _kind(NODE))
    conditions = [
        {"type": t, "status": "True", "reason": t, "lastTransitionTime": timestamp()}
        for t in ("Launched", "Registered")
    ]
    if initialized:
        conditions.append(
            {"type": INITIALIZED, "status": "True", "reason": INITIALIZED, "lastTransitionTime": timestamp()}
        )
    status = {"providerID": f"fake://{name}", "nodeName": name, "conditions": conditions}
    await client.patch(NODE_CLAIM, name, {"status": status}, subresource="status")


async def create_pod(
    client: ClusterClient,
    name: str,
    node: str,
    gpus: int = 1,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    ready: bool = True,
) -> None:
    container = {
        "name": "c",
        "image": "engine",
        "resources": {"requests": {GPU_RESOURCE: str(gpus), "cpu": "1"}},
    }
    pod = {
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": labels or {},
            "annotations": annotations or {},
        },
        # No kubelet runs these nodes to finish a graceful deletion: the pods stop at once, as pods
        # with a zero grace period do on any cluster.
        "spec": {"nodeName": node, "containers": [container], "terminationGracePeriodSeconds": 0},
    }
    await client.create(POD, pod | _kind(POD))
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    await client.patch(
        POD, name, {"status": {"phase": "Running", "conditions": conditions}}, "default", subresource="status"
    )
