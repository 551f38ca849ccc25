"""The disruption loop against an embedded API server on a manual clock: emptiness after consolidateAfter,
consolidation onto free capacity, a strictly cheaper replacement initialized before the old node goes,
and what holds nodes back: budgets, do-not-disrupt, a loading model replica, the serving guard, the warm
buffer."""

from __future__ import annotations

from typing import Any

from infleet.api.karpenter_sh.v1.node_claim import CONSOLIDATABLE, INITIALIZED, NODE_CLAIM
from infleet.api.labels import (
    DISRUPTION_TAINT,
    DO_NOT_DISRUPT_ANNOTATION,
    MODEL_DEPLOYMENT_LABEL,
    REPLACES_ANNOTATION,
)
from infleet.kube.conditions import is_true, timestamp
from tests.compute.conftest import ComputeCluster
from tests.compute.fleet_objects import create_node, create_pod, create_pool


def live_claims(cluster: ComputeCluster) -> set[str]:
    return {
        c["metadata"]["name"]
        for c in cluster.store("claims").list()
        if not c["metadata"].get("deletionTimestamp")
    }


async def test_empty_node_goes_only_after_consolidate_after(cluster: ComputeCluster) -> None:
    await create_pool(cluster.client, consolidateAfter="5m", budgets=[{"nodes": "100%"}])
    await create_node(cluster.client, "busy", 8, 80.0)
    await create_node(cluster.client, "empty", 8, 80.0)
    await create_pod(cluster.client, "app", "busy")
    await cluster.settle(2, 1)
    loop = cluster.controllers.loop
    assert await loop.run_pass() is None
    await cluster.clock.advance(240)
    assert await loop.run_pass() is None
    claim = await cluster.cached(
        lambda: (c := cluster.store("claims").get("empty")) and c.get("status", {}).get("conditions") and c
    )
    assert not is_true(claim["status"]["conditions"], CONSOLIDATABLE)
    await cluster.clock.advance(61)
    command = await loop.run_pass()
    assert command is not None
    assert command.method == "Emptiness"
    assert [s.name for s in command.delete] == ["empty"]
    await cluster.cached(lambda: live_claims(cluster) == {"busy"})
    await cluster.cached(lambda: "empty" not in cluster.store("claims"))


async def test_underutilized_node_consolidates_onto_free_capacity(cluster: ComputeCluster) -> None:
    await create_pool(cluster.client, budgets=[{"nodes": "100%"}])
    await create_node(cluster.client, "a", 8, 80.0)
    await create_node(cluster.client, "b", 8, 80.0)
    for i in range(6):
        await create_pod(cluster.client, f"a{i}", "a")
    await create_pod(cluster.client, "b0", "b", gpus=2)
    await cluster.settle(2, 7)
    command = await cluster.controllers.loop.run_pass()
    assert command is not None
    assert command.method == "SingleNodeConsolidation"
    assert [s.name for s in command.delete] == ["b"]  # fewest pods, and they fit on a's 2 free GPUs
    await cluster.cached(lambda: live_claims(cluster) == {"a"})


async def test_strictly_cheaper_replacement_initializes_before_the_old_node_goes(
    cluster: ComputeCluster,
) -> None:
    await create_pool(cluster.client, budgets=[{"nodes": "100%"}])
    await create_node(cluster.client, "big", 8, 80.0)
    await create_node(cluster.client, "full", 8, 80.0)
    for i in range(3):
        await create_pod(cluster.client, f"p{i}", "big")
    for i in range(8):
        await create_pod(cluster.client, f"f{i}", "full")
    await cluster.settle(2, 11)
    loop = cluster.controllers.loop
    command = await loop.run_pass()
    assert command is not None
    assert command.replace
    assert command.replace[0].option.instance_type.name == "gpu-4x"  # $40 < $80, holds 3 GPUs
    new = await cluster.cached(
        lambda: next(
            (
                c
                for c in cluster.store("claims").list()
                if c["metadata"].get("annotations", {}).get(REPLACES_ANNOTATION) == "big"
            ),
            None,
        )
    )
    await cluster.cached(
        lambda: any(
            t["key"] == DISRUPTION_TAINT
            for t in cluster.store("nodes").get("big")["spec"].get("taints") or []
        )
    )
    # Until the replacement initializes, the old node stays.
    assert await loop.run_pass() is None
    assert "big" in live_claims(cluster)
    await initialize(cluster, new["metadata"]["name"], 4)
    await cluster.cached(
        lambda: is_true(
            cluster.store("claims").get(new["metadata"]["name"]).get("status", {}).get("conditions"),
            INITIALIZED,
        )
    )
    await loop.run_pass()
    await cluster.cached(lambda: "big" not in live_claims(cluster))


async def initialize(cluster: ComputeCluster, name: str, gpus: int) -> None:
    """What the provisioning side's lifecycle would do: launch, register and initialize the claim."""
    from infleet.api.kubernetes import NODE
    from infleet.api.labels import GPU_RESOURCE, NODECLAIM_LABEL, NODEPOOL_LABEL, PRICE_LABEL

    allocatable = {GPU_RESOURCE: str(gpus), "cpu": str(gpus * 8), "memory": f"{gpus * 64}Gi"}
    labels = {NODEPOOL_LABEL: "gpu", NODECLAIM_LABEL: name, PRICE_LABEL: str(gpus * 10.0)}
    await cluster.client.create(
        NODE,
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": labels},
            "status": {"allocatable": allocatable},
        },
    )
    conditions = [
        {"type": INITIALIZED, "status": "True", "reason": INITIALIZED, "lastTransitionTime": timestamp()}
    ]
    status = {"providerID": f"fake://{name}", "nodeName": name, "conditions": conditions}
    await cluster.client.patch(NODE_CLAIM, name, {"status": status}, subresource="status")


async def _two_half_empty_nodes(cluster: ComputeCluster, **pod_args: Any) -> None:
    await create_node(cluster.client, "a", 8, 80.0)
    await create_node(cluster.client, "b", 8, 80.0)
    await create_pod(cluster.client, "a0", "a", gpus=4)
    await create_pod(cluster.client, "b0", "b", gpus=2, **pod_args)
    await cluster.settle(2, 2)


async def test_do_not_disrupt_pod_keeps_its_node(cluster: ComputeCluster) -> None:
    await create_pool(cluster.client, budgets=[{"nodes": "100%"}])
    await _two_half_empty_nodes(cluster, annotations={DO_NOT_DISRUPT_ANNOTATION: "true"})
    command = await cluster.controllers.loop.run_pass()
    # b is protected, so a goes (its 4 GPUs fit on b's 6 free ones), though b moves fewer pods.
    assert command is not None
    assert [s.name for s in command.delete] == ["a"]


async def test_do_not_disrupt_node_is_no_candidate(cluster: ComputeCluster) -> None:
    await create_pool(cluster.client, budgets=[{"nodes": "100%"}])
    await create_node(cluster.client, "a", 8, 80.0, annotations={DO_NOT_DISRUPT_ANNOTATION: "true"})
    await cluster.settle(1)
    assert await cluster.controllers.loop.run_pass() is None


async def test_a_loading_model_replica_blocks_disruption(cluster: ComputeCluster) -> None:
    await create_pool(cluster.client, budgets=[{"nodes": "100%"}])
    await _two_half_empty_nodes(cluster, labels={MODEL_DEPLOYMENT_LABEL: "llama"}, ready=False)
    loop = cluster.controllers.loop
    command = await loop.run_pass()
    # b runs a replica still loading its weights: only a may go.
    assert command is not None
    assert [s.name for s in command.delete] == ["a"]


async def test_one_model_replica_at_a_time(cluster: ComputeCluster) -> None:
    await create_pool(cluster.client, budgets=[{"nodes": "100%"}])
    for name in ("a", "b", "c"):
        await create_node(cluster.client, name, 8, 80.0)
    await create_pod(cluster.client, "a0", "a", labels={MODEL_DEPLOYMENT_LABEL: "llama"})
    await create_pod(cluster.client, "b0", "b", labels={MODEL_DEPLOYMENT_LABEL: "llama"})
    await create_pod(cluster.client, "c0", "c", gpus=8)
    await cluster.settle(3, 3)
    command = await cluster.controllers.loop.run_pass()
    # a and b could both move, but not both replicas of llama in one go.
    assert command is not None
    assert len(command.delete) == 1


async def test_budget_caps_nodes_disrupted_at_once(cluster: ComputeCluster) -> None:
    await create_pool(cluster.client, budgets=[{"nodes": "2"}])
    for i in range(5):
        await create_node(cluster.client, f"n{i}", 8, 80.0)
    await cluster.settle(5)
    command = await cluster.controllers.loop.run_pass()
    assert command is not None
    assert len(command.delete) == 2
    await cluster.cached(lambda: len(live_claims(cluster)) == 3)


async def test_warm_buffer_keeps_spare_gpus(cluster: ComputeCluster) -> None:
    await create_pool(cluster.client, budgets=[{"nodes": "100%"}], warmBuffer=[{"sku": "H100", "gpus": 8}])
    await create_node(cluster.client, "busy", 8, 80.0)
    for i in range(8):
        await create_pod(cluster.client, f"p{i}", "busy")
    for name in ("spare1", "spare2"):
        await create_node(cluster.client, name, 8, 80.0)
    await cluster.settle(3, 8)
    command = await cluster.controllers.loop.run_pass()
    assert command is not None
    assert len(command.delete) == 1  # one empty node stays as the buffer
    await cluster.cached(lambda: len(live_claims(cluster)) == 2)
    assert await cluster.controllers.loop.run_pass() is None
