"""Termination: a deleted NodeClaim's node is tainted and drained through the eviction API (daemons stay,
PDBs and do-not-disrupt wait until terminationGracePeriod), the Node deleted, the instance terminated,
the finalizer released; a Node deleted directly goes the same way through its NodeClaim."""

from __future__ import annotations

import asyncio

from infleet.api.karpenter_sh.v1.node_claim import NODE_CLAIM
from infleet.api.kubernetes import EVENT, NODE, POD, POD_DISRUPTION_BUDGET
from infleet.api.labels import DISRUPTION_TAINT, DO_NOT_DISRUPT_ANNOTATION, TERMINATION_FINALIZER
from infleet.kube.api_error import KubeAPIError
from tests.compute.conftest import ComputeCluster
from tests.compute.fleet_objects import create_node, create_pod, create_pool


async def exists(cluster: ComputeCluster, kind: object, name: str, namespace: str | None = None) -> bool:
    try:
        await cluster.client.get(kind, name, namespace)  # type: ignore[arg-type]
        return True
    except KubeAPIError as error:
        if not error.not_found:
            raise
        return False


async def test_termination_drains_deletes_the_node_and_terminates_the_instance(
    cluster: ComputeCluster,
) -> None:
    await create_pool(cluster.client)
    await create_node(cluster.client, "n1", 8, 80.0)
    cluster.provider.instances["fake://n1"] = object()  # type: ignore[assignment]
    await create_pod(cluster.client, "app", "n1")
    await create_pod(cluster.client, "daemon", "n1")
    await cluster.client.patch(
        POD,
        "daemon",
        {
            "metadata": {
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "DaemonSet",
                        "name": "ds",
                        "uid": "u1",
                        "controller": True,
                    }
                ]
            }
        },
        "default",
    )
    await cluster.settle(1, 2)
    await cluster.client.delete(NODE_CLAIM, "n1")
    await cluster.cached(lambda: not cluster.store("claims").get("n1"))
    assert not await exists(cluster, POD, "app", "default")
    assert await exists(cluster, POD, "daemon", "default")  # DaemonSet pods are not drained
    assert not await exists(cluster, NODE, "n1")
    assert cluster.provider.deleted == ["fake://n1"]


async def test_do_not_disrupt_pod_waits_until_the_grace_period_then_goes(cluster: ComputeCluster) -> None:
    await create_pool(cluster.client)
    spec = {
        "nodeClassRef": {"group": "compute.aitoolchain.io", "kind": "FlexNodeClass", "name": "flex"},
        "terminationGracePeriod": "60s",
    }
    await create_node(cluster.client, "n1", 8, 80.0, claim_spec=spec)
    await create_pod(cluster.client, "pinned", "n1", annotations={DO_NOT_DISRUPT_ANNOTATION: "true"})
    await cluster.settle(1, 1)
    await cluster.client.delete(NODE_CLAIM, "n1")
    node = await cluster.cached(
        lambda: (n := cluster.store("nodes").get("n1")) and (n.get("spec") or {}).get("taints") and n
    )
    assert node["spec"]["taints"][0]["key"] == DISRUPTION_TAINT
    await cluster.clock.advance(30)
    assert await exists(cluster, POD, "pinned", "default")
    claim = await cluster.client.get(NODE_CLAIM, "n1")
    assert TERMINATION_FINALIZER in claim["metadata"]["finalizers"]
    # The grace period runs out on the manual clock: the pod goes then, not before. The clock stops on
    # each side of it, so slow controllers cannot make the grace period look longer than it is.
    await cluster.clock.advance(28)
    await asyncio.sleep(0.5)
    assert await exists(cluster, POD, "pinned", "default")
    await cluster.clock.advance(3)
    await cluster.cached(lambda: not cluster.store("claims").get("n1"), within=30)
    assert not await exists(cluster, POD, "pinned", "default")


async def test_a_budget_refuses_evictions_until_the_grace_period_then_the_pods_are_deleted(
    cluster: ComputeCluster,
) -> None:
    await create_pool(cluster.client)
    spec = {
        "nodeClassRef": {"group": "compute.aitoolchain.io", "kind": "FlexNodeClass", "name": "flex"},
        "terminationGracePeriod": "60s",
    }
    await create_node(cluster.client, "n1", 8, 80.0, claim_spec=spec)
    for name in ("web-0", "web-1"):
        await create_pod(cluster.client, name, "n1", labels={"app": "web"})
    budget = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "minAvailable": 1},
    }
    await cluster.client.create(POD_DISRUPTION_BUDGET, budget)
    await cluster.settle(1, 2)
    await cluster.client.delete(NODE_CLAIM, "n1")
    # The API server lets one pod go (one disruption allowed) and refuses the other with 429; the
    # refusal, naming the budget and its counts, is the claim's DrainWaiting event.
    await cluster.cached(lambda: len(cluster.store("pods")) == 1)

    async def waiting_events() -> list[dict[str, object]]:
        events = (await cluster.client.list(EVENT)).items
        return [e for e in events if e.get("reason") == "DrainWaiting"]

    async with asyncio.timeout(10):
        while not (events := await waiting_events()):  # noqa: ASYNC110 (polls the API server)
            await asyncio.sleep(0.05)
    message = str(events[0]["message"])
    assert "would violate the pod's disruption budget" in message
    assert "The disruption budget web needs 1 healthy pods and has 1 currently" in message
    await cluster.clock.advance(30)
    await asyncio.sleep(0.3)
    (left,) = cluster.store("pods").list()
    assert await exists(cluster, POD, left["metadata"]["name"], "default")
    # Past terminationGracePeriod the drain is forced: the last pod is deleted, its budget aside.
    await cluster.clock.advance(31)
    await cluster.cached(lambda: not cluster.store("claims").get("n1"), within=30)
    assert not await exists(cluster, POD, left["metadata"]["name"], "default")


async def test_a_node_deleted_directly_is_terminated_through_its_claim(cluster: ComputeCluster) -> None:
    await create_pool(cluster.client)
    await create_node(cluster.client, "n1", 8, 80.0)
    await cluster.settle(1)
    await cluster.client.delete(NODE, "n1")
    await cluster.cached(lambda: not cluster.store("claims").get("n1"))
    assert cluster.provider.deleted == ["fake://n1"]
