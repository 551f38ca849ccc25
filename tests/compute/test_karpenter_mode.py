"""Karpenter mode against an embedded API server: a pending GPU pod gets no NodeClaim from Infleet (the
same setup in infleet mode gets one), Karpenter's pools keep the status Karpenter wrote, FlexNodeClass
pools say why they get no nodes, and the member's ``provisionable`` property still reports what
Karpenter's pools can add."""

from __future__ import annotations

import asyncio
from pathlib import Path

from infleet.api.catalog import load_catalog
from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FLEX_NODE_CLASS
from infleet.api.karpenter_sh.v1.node_pool import NODE_POOL
from infleet.api.labels import INSTANCE_TYPE_LABEL
from infleet.api.provisionable import provisionable_gpus
from infleet.compute.mode import ComputeMode
from infleet.kube.conditions import get_condition
from tests.compute.mode_cluster import EC2_REF, ModeCluster, create_pending_pod, create_pool, mode_cluster

KARPENTER_STATUS = {
    "resources": {"nvidia.com/gpu": "8", "nodes": "1"},
    "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "written by Karpenter"}],
}


async def _pools_and_pod(cluster: ModeCluster) -> None:
    await create_pool(
        cluster.client,
        "aws-h100",
        EC2_REF,
        requirements=[{"key": INSTANCE_TYPE_LABEL, "operator": "In", "values": ["p5.48xlarge"]}],
        limits={"nvidia.com/gpu": 32},
    )
    await cluster.client.patch(NODE_POOL, "aws-h100", {"status": KARPENTER_STATUS}, subresource="status")
    await create_pool(cluster.client, "flex")
    await create_pending_pod(cluster.client, "llm-0")


async def _ready(cluster: ModeCluster, pool: str) -> dict[str, str] | None:
    status = (await cluster.pool(pool)).get("status") or {}
    return get_condition(status.get("conditions"), "Ready")


async def test_karpenter_mode_provisions_nothing_but_properties_still_report(tmp_path: Path) -> None:
    async with mode_cluster(tmp_path, ComputeMode.KARPENTER) as cluster:
        assert cluster.controllers.provisioner is None
        assert cluster.controllers.lifecycle is None
        await _pools_and_pod(cluster)
        flex = await cluster.eventually(lambda: _ready(cluster, "flex"))
        assert (flex["status"], flex["reason"]) == ("False", "NotProvisioned")
        assert "karpenter mode" in flex["message"]
        await asyncio.sleep(1.0)  # several batch windows: an Infleet provisioner would have acted
        assert await cluster.claims() == []
        aws = (await cluster.pool("aws-h100"))["status"]
        assert aws == KARPENTER_STATUS  # Karpenter's pool: Infleet wrote nothing there
        pools = (await cluster.client.list(NODE_POOL)).items
        classes = (await cluster.client.list(FLEX_NODE_CLASS)).items
        # Karpenter's pool: its limit less what it holds; the FlexNodeClass pool nobody provisions: nothing.
        assert provisionable_gpus(pools, classes, load_catalog()) == {"H100": 24}


async def test_the_same_cluster_in_infleet_mode_provisions_the_pod(tmp_path: Path) -> None:
    async with mode_cluster(tmp_path, ComputeMode.INFLEET) as cluster:
        await _pools_and_pod(cluster)
        claims = await cluster.eventually(cluster.claims)
        assert {c["metadata"]["labels"]["karpenter.sh/nodepool"] for c in claims} == {"flex"}
        aws = await cluster.eventually(lambda: _ready(cluster, "aws-h100"))
        # No Karpenter here: Infleet says it cannot serve an EC2NodeClass pool, and the member agent
        # then counts it for nothing.
        assert (aws["status"], aws["reason"]) == ("False", "UnsupportedNodeClass")
        assert "--mode karpenter" in aws["message"]
        pools = (await cluster.client.list(NODE_POOL)).items
        assert "H100" not in provisionable_gpus(
            [p for p in pools if p["metadata"]["name"] == "aws-h100"], [], load_catalog()
        )
