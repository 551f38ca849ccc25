"""Spot interruptions: the reclaimed node gets a replacement with the same requirements first, then is
tainted and drained (PDB-blocked or do-not-disrupt pods too, once the deadline is near) and deleted
before the deadline, with its instance terminated."""

from __future__ import annotations

from infleet.api.labels import (
    DO_NOT_DISRUPT_ANNOTATION,
    INTERRUPTION_DEADLINE_ANNOTATION,
    REPLACES_ANNOTATION,
)
from infleet.compute.cloudprovider.provider import Interruption
from tests.compute.conftest import ComputeCluster
from tests.compute.fleet_objects import create_node, create_pod, create_pool


async def test_spot_interruption_is_replaced_and_drained_before_the_deadline(cluster: ComputeCluster) -> None:
    await create_pool(cluster.client, budgets=[{"nodes": "0"}])  # budgets do not hold back a reclaim
    spec = {
        "nodeClassRef": {"group": "compute.aitoolchain.io", "kind": "FlexNodeClass", "name": "flex"},
        "requirements": [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}],
    }
    await create_node(cluster.client, "spot1", 8, 30.0, capacity_type="spot", claim_spec=spec)
    cluster.provider.instances["fake://spot1"] = object()  # type: ignore[assignment]
    await create_pod(cluster.client, "app", "spot1")
    await create_pod(cluster.client, "pinned", "spot1", annotations={DO_NOT_DISRUPT_ANNOTATION: "true"})
    await cluster.settle(1, 2)
    deadline = cluster.clock.wall() + 120
    cluster.provider.notices.append(Interruption("fake://spot1", deadline))
    assert await cluster.controllers.loop.run_pass() is None
    replacement = await cluster.cached(
        lambda: next(
            (
                c
                for c in cluster.store("claims").list()
                if (c["metadata"].get("annotations") or {}).get(REPLACES_ANNOTATION) == "spot1"
            ),
            None,
        )
    )
    assert replacement["spec"]["requirements"] == spec["requirements"]
    old = await cluster.cached(
        lambda: (c := cluster.store("claims").get("spot1")) and c["metadata"].get("deletionTimestamp") and c
    )
    assert abs(float(old["metadata"]["annotations"][INTERRUPTION_DEADLINE_ANNOTATION]) - deadline) < 0.01
    await cluster.cached(lambda: cluster.store("pods").get("app", "default") is None)
    # The do-not-disrupt pod holds the drain until 30 s before the deadline, not past it.
    waited = await cluster.advance_until(lambda: "spot1" not in cluster.store("claims"), step=5)
    assert 85 <= waited < 120
    assert cluster.clock.wall() < deadline
    assert cluster.provider.deleted == ["fake://spot1"]
    # A repeated notice for the same instance is not acted on twice.
    await cluster.controllers.loop.run_pass()
    assert (
        sum(
            1
            for c in cluster.store("claims").list()
            if (c["metadata"].get("annotations") or {}).get(REPLACES_ANNOTATION)
        )
        == 1
    )
