"""Drift: a NodeClaim whose NodePool template, requirements or FlexNodeClass changed is marked Drifted
and replaced (replacement first, initialized, then the old node goes) within the Drifted budget, never
while a model replica on it is loading."""

from __future__ import annotations

from typing import Any

from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FLEX_NODE_CLASS, FlexNodeClassSpec
from infleet.api.karpenter_sh.v1.node_claim import DRIFTED, NODE_CLAIM
from infleet.api.karpenter_sh.v1.node_pool import NODE_POOL, NodePoolSpec
from infleet.api.kubernetes import POD
from infleet.api.labels import (
    DISRUPTION_TAINT,
    GPU_SKU_LABEL,
    MODEL_DEPLOYMENT_LABEL,
    NODEPOOL_HASH_ANNOTATION,
    REPLACES_ANNOTATION,
)
from infleet.compute.disruption.drifted import (
    NODECLASS_DRIFTED,
    NODEPOOL_DRIFTED,
    REQUIREMENTS_DRIFTED,
    drift_reason,
)
from infleet.compute.disruption.state import StateNode
from infleet.compute.drift_hash import drift_annotations, nodepool_hash
from infleet.kube.conditions import get_condition
from tests.compute.conftest import ComputeCluster
from tests.compute.fleet_objects import NODE_CLASS, create_node, create_pod, create_pool
from tests.compute.test_disruption import initialize, live_claims


async def _stamps(cluster: ComputeCluster) -> dict[str, str]:
    """The drift hashes the provisioner would stamp on a claim of pool gpu now."""
    pool = await cluster.client.get(NODE_POOL, "gpu")
    node_class = await cluster.client.get(FLEX_NODE_CLASS, NODE_CLASS)
    return drift_annotations(
        NodePoolSpec.model_validate(pool["spec"]), FlexNodeClassSpec.model_validate(node_class["spec"])
    )


async def _full_nodes(cluster: ComputeCluster, names: tuple[str, ...]) -> None:
    stamps = await _stamps(cluster)
    for name in names:
        await create_node(cluster.client, name, 8, 80.0, claim_annotations=stamps)
        for i in range(8):
            await create_pod(cluster.client, f"{name}{i}", name)
    await cluster.settle(len(names), 8 * len(names))


async def _change_template(cluster: ComputeCluster) -> None:
    patch = {"spec": {"template": {"metadata": {"labels": {"team": "ml"}}}}}
    await cluster.client.patch(NODE_POOL, "gpu", patch)
    await cluster.cached(
        lambda: (cluster.store("pools").get("gpu")["spec"]["template"].get("metadata") or {}).get("labels")
    )


def _drifted(cluster: ComputeCluster, name: str) -> dict[str, Any] | None:
    claim = cluster.store("claims").get(name)
    return get_condition((claim.get("status") or {}).get("conditions"), DRIFTED) if claim else None


def _tainted(cluster: ComputeCluster, name: str) -> bool:
    node = cluster.store("nodes").get(name)
    return any(t["key"] == DISRUPTION_TAINT for t in node["spec"].get("taints") or [])


async def test_template_change_drifts_claims_and_replaces_them_within_budget(cluster: ComputeCluster) -> None:
    await create_pool(cluster.client, budgets=[{"nodes": "1", "reasons": ["Drifted"]}])
    await _full_nodes(cluster, ("a", "b"))
    loop = cluster.controllers.loop
    assert await loop.run_pass() is None  # nothing drifted yet, and full nodes do not consolidate
    assert _drifted(cluster, "a") is None

    await _change_template(cluster)
    command = await loop.run_pass()
    assert command is not None
    assert command.method == "Drift"
    assert command.reason == "Drifted"
    [replacement] = command.replace
    [old] = replacement.old  # the budget lets one drifted node go at a time
    other = "b" if old.name == "a" else "a"
    for name in ("a", "b"):
        condition = await cluster.cached(lambda n=name: _drifted(cluster, n))
        assert condition["status"] == "True"
        assert condition["reason"] == NODEPOOL_DRIFTED
    # The replacement comes from the pool's current template, so it is not drifted itself.
    new = await cluster.cached(
        lambda: next(
            (
                c
                for c in cluster.store("claims").list()
                if (c["metadata"].get("annotations") or {}).get(REPLACES_ANNOTATION) == old.name
            ),
            None,
        )
    )
    pool = NodePoolSpec.model_validate(cluster.store("pools").get("gpu")["spec"])
    assert new["metadata"]["annotations"][NODEPOOL_HASH_ANNOTATION] == nodepool_hash(pool)
    assert new["metadata"]["labels"]["team"] == "ml"
    await cluster.cached(lambda: _tainted(cluster, old.name))

    # The old node waits for its replacement, and the budget keeps the other drifted node.
    assert await loop.run_pass() is None
    assert live_claims(cluster) >= {"a", "b"}
    assert not _tainted(cluster, other)
    await initialize(cluster, new["metadata"]["name"], 8)
    await cluster.cached(
        lambda: (c := cluster.store("claims").get(new["metadata"]["name"])) and c.get("status")
    )
    await loop.run_pass()
    await cluster.cached(lambda: old.name not in live_claims(cluster))


async def test_drift_never_disrupts_a_loading_model_replica(cluster: ComputeCluster) -> None:
    await create_pool(cluster.client, budgets=[{"nodes": "100%"}])
    await create_node(cluster.client, "m", 8, 80.0, claim_annotations=await _stamps(cluster))
    # One replica on all 8 GPUs (the serving guard lets one Ready replica of a deployment go at a time).
    await create_pod(cluster.client, "m0", "m", gpus=8, labels={MODEL_DEPLOYMENT_LABEL: "llama"}, ready=False)
    await cluster.settle(1, 1)
    await _change_template(cluster)
    loop = cluster.controllers.loop
    assert await loop.run_pass() is None
    condition = await cluster.cached(lambda: _drifted(cluster, "m"))
    assert condition["status"] == "True"  # drifted, yet kept while its replicas load
    assert not _tainted(cluster, "m")
    assert await loop.run_pass() is None
    ready = [{"type": "Ready", "status": "True"}]
    await cluster.client.patch(
        POD, "m0", {"status": {"phase": "Running", "conditions": ready}}, "default", subresource="status"
    )
    await cluster.cached(
        lambda: all(
            any(c.get("status") == "True" for c in (p.get("status") or {}).get("conditions") or [])
            for p in cluster.store("pods").list()
        )
    )
    command = await loop.run_pass()
    assert command is not None
    assert command.method == "Drift"
    assert [s.name for r in command.replace for s in r.old] == ["m"]


async def test_a_claim_without_the_hash_is_not_drifted_by_template(cluster: ComputeCluster) -> None:
    await create_pool(cluster.client, budgets=[{"nodes": "100%"}])
    await create_node(cluster.client, "old", 8, 80.0)
    for i in range(8):
        await create_pod(cluster.client, f"p{i}", "old")
    await cluster.settle(1, 8)
    await _change_template(cluster)
    assert await cluster.controllers.loop.run_pass() is None
    assert _drifted(cluster, "old") is None


def _state(labels: dict[str, str], annotations: dict[str, str]) -> StateNode:
    claim = {
        "metadata": {"name": "c", "labels": labels, "annotations": annotations},
        "status": {"conditions": [{"type": "Initialized", "status": "True"}]},
    }
    return StateNode(claim, {"metadata": {"name": "c", "labels": labels}}, "gpu")


def _pool(**template_spec: Any) -> NodePoolSpec:
    ref = {"group": "compute.aitoolchain.io", "kind": "FlexNodeClass", "name": NODE_CLASS}
    return NodePoolSpec.model_validate({"template": {"spec": {"nodeClassRef": ref, **template_spec}}})


def test_drift_reasons() -> None:
    node_class = FlexNodeClassSpec.model_validate({"clouds": [{"name": "fake"}]})
    pool = _pool()
    stamps = drift_annotations(pool, node_class)
    state = _state({GPU_SKU_LABEL: "H100"}, stamps)
    assert drift_reason(state, pool, {NODE_CLASS: node_class}) is None
    tainted = _pool(taints=[{"key": "gpu", "effect": "NoSchedule"}])
    assert drift_reason(state, tainted, {NODE_CLASS: node_class}) == NODEPOOL_DRIFTED
    started = _pool(startupTaints=[{"key": "driver", "effect": "NoSchedule"}])
    assert drift_reason(state, started, {NODE_CLASS: node_class}) == NODEPOOL_DRIFTED
    a100_only = _pool(requirements=[{"key": GPU_SKU_LABEL, "operator": "In", "values": ["A100"]}])
    assert drift_reason(state, a100_only, {NODE_CLASS: node_class}) == REQUIREMENTS_DRIFTED
    changed_class = FlexNodeClassSpec.model_validate({"clouds": [{"name": "other"}]})
    assert drift_reason(state, pool, {NODE_CLASS: changed_class}) == NODECLASS_DRIFTED
    # Behavioural fields never drift.
    assert drift_reason(state, _pool(expireAfter="1h"), {NODE_CLASS: node_class}) is None


async def test_node_claim_condition_cleared_when_no_longer_drifted(cluster: ComputeCluster) -> None:
    await create_pool(cluster.client, budgets=[{"nodes": "0"}])
    await _full_nodes(cluster, ("a",))
    await _change_template(cluster)
    loop = cluster.controllers.loop
    assert await loop.run_pass() is None  # the budget allows no disruption
    await cluster.cached(lambda: _drifted(cluster, "a"))
    await cluster.client.patch(NODE_POOL, "gpu", {"spec": {"template": {"metadata": {"labels": None}}}})
    await cluster.cached(
        lambda: (
            not (cluster.store("pools").get("gpu")["spec"]["template"].get("metadata") or {}).get("labels")
        )
    )
    await loop.run_pass()
    await cluster.cached(lambda: _drifted(cluster, "a") is None)
    assert (await cluster.client.get(NODE_CLAIM, "a"))["metadata"]["name"] == "a"
