"""Static pools (``spec.replicas``, nodes brought by their owner): the provisioner never adds a node to
one (a dynamic pool beside it still gets the pod), disruption never removes one of its nodes (an empty
node of a dynamic pool in the same pass goes), and its nodes' capacity counts in the pool's status and
in the member's fleet properties, while the pool adds nothing ``provisionable``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from infleet.api import fleet_properties as fp
from infleet.api.catalog import load_catalog
from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FLEX_NODE_CLASS
from infleet.api.karpenter_sh.v1.node_pool import NODE_POOL
from infleet.api.kubernetes import NODE
from infleet.api.provisionable import provisionable_gpus
from infleet.compute.mode import ComputeMode
from infleet.fleet.member.properties import cluster_properties
from infleet.kube.conditions import get_condition
from tests.compute.conftest import ComputeCluster
from tests.compute.fleet_objects import create_node
from tests.compute.fleet_objects import create_pool as create_dynamic_pool
from tests.compute.mode_cluster import (
    ModeCluster,
    create_byo_node,
    create_pending_pod,
    create_pool,
    mode_cluster,
)


async def _status(cluster: ModeCluster, pool: str) -> dict[str, object] | None:
    status = (await cluster.pool(pool)).get("status") or {}
    return status if get_condition(status.get("conditions"), "Ready") else None


async def test_the_provisioner_never_adds_nodes_to_a_static_pool(tmp_path: Path) -> None:
    async with mode_cluster(tmp_path, ComputeMode.INFLEET) as cluster:
        await create_pool(cluster.client, "byo", replicas=2)
        await create_byo_node(cluster.client, "rack-1", "byo")
        await create_pending_pod(cluster.client, "llm-0", gpus=8)
        await asyncio.sleep(1.0)  # several batch windows
        assert await cluster.claims() == []
        status = await cluster.eventually(lambda: _status(cluster, "byo"))
        ready = get_condition(status["conditions"], "Ready")  # type: ignore[arg-type]
        assert ready is not None
        assert ready["status"] == "True"
        assert ready["message"] == "1 of 2 nodes labeled karpenter.sh/nodepool=byo present"
        assert status["nodes"] == 1
        assert status["resources"]["nvidia.com/gpu"] == "8"
        await create_pool(cluster.client, "cloud")  # a dynamic pool takes the pod at once
        claims = await cluster.eventually(cluster.claims)
        assert {c["metadata"]["labels"]["karpenter.sh/nodepool"] for c in claims} == {"cloud"}
        assert [n["metadata"]["name"] for n in (await cluster.client.list(NODE)).items] == ["rack-1"]


async def test_a_static_pool_with_a_weight_is_refused_by_name(tmp_path: Path) -> None:
    async with mode_cluster(tmp_path, ComputeMode.KARPENTER) as cluster:
        await create_pool(cluster.client, "byo", replicas=1, limits={"nvidia.com/gpu": 8})
        status = await cluster.eventually(lambda: _status(cluster, "byo"))
        ready = get_condition(status["conditions"], "Ready")  # type: ignore[arg-type]
        assert ready is not None
        assert (ready["status"], ready["reason"]) == ("False", "InvalidStaticPool")
        assert ready["message"].startswith("NodePool byo: spec.limits of a static pool")


async def test_disruption_never_removes_a_static_pools_nodes(cluster: ComputeCluster) -> None:
    await create_dynamic_pool(cluster.client, "gpu", budgets=[{"nodes": "100%"}])
    await create_pool(cluster.client, "byo", replicas=1)
    await create_node(cluster.client, "dyn-empty", 8, 80.0, pool="gpu")
    await create_node(cluster.client, "byo-empty", 8, 80.0, pool="byo")
    await cluster.settle(2)
    await cluster.cached(lambda: len(cluster.store("pools")) == 2)
    loop = cluster.controllers.loop
    await cluster.clock.advance(3600)
    command = await loop.run_pass()
    assert command is not None
    assert command.method == "Emptiness"
    assert [s.name for s in command.delete] == ["dyn-empty"]
    await cluster.cached(lambda: "dyn-empty" not in cluster.store("claims"))
    await cluster.clock.advance(3600)
    assert await loop.run_pass() is None
    assert "byo-empty" in cluster.store("claims")
    assert cluster.provider.deleted == ["fake://dyn-empty"]


async def test_static_capacity_counts_in_the_properties_but_adds_nothing_provisionable(
    tmp_path: Path,
) -> None:
    async with mode_cluster(tmp_path, ComputeMode.INFLEET) as cluster:
        await create_pool(cluster.client, "byo", replicas=1)
        await create_byo_node(cluster.client, "rack-1", "byo")
        nodes = (await cluster.client.list(NODE)).items
        pools = (await cluster.client.list(NODE_POOL)).items
        classes = (await cluster.client.list(FLEX_NODE_CLASS)).items
    catalog = load_catalog()
    provisionable = provisionable_gpus(pools, classes, catalog)
    assert provisionable == {}
    properties = cluster_properties(nodes, [], catalog, provisionable).properties
    assert properties[fp.TOTAL_GPUS] == "8"
    assert properties[fp.sku_property("H100", fp.SKU_AVAILABLE)] == "8"
    assert properties[fp.sku_property("H100", fp.SKU_PROVISIONABLE)] == "0"
