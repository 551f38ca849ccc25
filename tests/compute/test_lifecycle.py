"""NodeClaim lifecycle phases on a recording fake client: startup taints go only once the node is Ready
and its GPUs are allocatable; launch and registration timeouts delete the claim."""

from __future__ import annotations

import copy
from typing import Any, cast

from infleet.compute.lifecycle.claim_run import ClaimRun
from infleet.compute.lifecycle.initialization import Initialization
from infleet.compute.lifecycle.liveness import Liveness
from infleet.kube.clock import ManualClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import timestamp
from infleet.kube.events import EventRecorder

STARTUP = {"key": "nvidia.com/gpu-driver", "effect": "NoSchedule"}


class FakeClient:
    name = "member"

    def __init__(self) -> None:
        self.patches: list[tuple[str, str, Any]] = []
        self.deleted: list[str] = []

    async def patch(self, kind: Any, name: str, patch: Any, namespace: str | None = None, **kw: Any) -> Any:
        self.patches.append((kind.kind, name, patch))
        return {"metadata": {"name": name, "resourceVersion": "2"}, "status": patch.get("status", {})}

    async def delete(
        self, kind: Any, name: str, namespace: str | None = None, *, missing_ok: bool = False
    ) -> Any:
        self.deleted.append(name)
        return {}

    async def create(self, kind: Any, obj: Any, namespace: str | None = None) -> Any:
        return {"metadata": {"name": "event", "namespace": "default"}}


def claim(conditions: list[dict[str, Any]], created: float) -> dict[str, Any]:
    return {
        "metadata": {"name": "gpu-x", "resourceVersion": "1", "creationTimestamp": timestamp(created)},
        "spec": {"startupTaints": [STARTUP]},
        "status": {"conditions": conditions},
    }


def node(ready: bool, gpus_allocatable: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "gpu-x"},
        "spec": {"taints": [STARTUP]},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "capacity": {"nvidia.com/gpu": "8"},
            "allocatable": {"nvidia.com/gpu": gpus_allocatable},
        },
    }


async def test_startup_taints_are_removed_only_after_the_gpus_register() -> None:
    fake, clock = FakeClient(), ManualClock()
    phase = Initialization(cast(ClusterClient, fake), clock)
    registered = [{"type": "Registered", "status": "True"}]
    for ready, allocatable in ((False, "8"), (True, "0")):
        run = ClaimRun(claim(copy.deepcopy(registered), clock.wall()), node(ready, allocatable))
        await phase.reconcile(run)
        assert fake.patches == []
    run = ClaimRun(claim(copy.deepcopy(registered), clock.wall()), node(True, "8"))
    await phase.reconcile(run)
    kind, _, patch = fake.patches[0]
    assert kind == "Node"
    assert patch["spec"]["taints"] == []
    assert {c["type"] for c in run.claim["status"]["conditions"]} >= {"Initialized", "Ready"}


async def test_launch_and_registration_timeouts_delete_the_claim() -> None:
    fake, clock = FakeClient(), ManualClock()
    client = cast(ClusterClient, fake)
    liveness = Liveness(client, EventRecorder(client, "karpenter", clock), clock, 300, 900)
    fresh = ClaimRun(claim([], clock.wall() - 10))
    result = await liveness.reconcile(fresh)
    assert not fresh.deleted
    assert result.requeue_after is not None
    assert 280 < result.requeue_after <= 290
    stale = ClaimRun(claim([], clock.wall() - 301))
    await liveness.reconcile(stale)
    assert stale.deleted
    launched = [{"type": "Launched", "status": "True", "lastTransitionTime": timestamp(clock.wall() - 901)}]
    unregistered = ClaimRun(claim(launched, clock.wall() - 1000))
    await liveness.reconcile(unregistered)
    assert unregistered.deleted
    assert fake.deleted == ["gpu-x", "gpu-x"]
