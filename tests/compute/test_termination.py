"""Termination: a deleted NodeClaim's node is tainted and drained (daemons stay, PDBs and do-not-disrupt
wait until terminationGracePeriod), the Node deleted, the instance terminated, the finalizer released;
a Node deleted directly goes the same way through its NodeClaim."""

from __future__ import annotations

import asyncio

from infleet.api.karpenter_sh.v1.node_claim import NODE_CLAIM
from infleet.api.kubernetes import NODE, POD
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


async def test_a_node_deleted_directly_is_terminated_through_its_claim(cluster: ComputeCluster) -> None:
    await create_pool(cluster.client)
    await create_node(cluster.client, "n1", 8, 80.0)
    await cluster.settle(1)
    await cluster.client.delete(NODE, "n1")
    await cluster.cached(lambda: not cluster.store("claims").get("n1"))
    assert cluster.provider.deleted == ["fake://n1"]
