"""The heartbeat's timing on a manual clock: the jittered period, change-triggered writes at most once per
``min_interval`` and only when something changed, backoff while the hub refuses, and Leave."""

from __future__ import annotations

import random
from typing import Any

import httpx2

from infleet.api.catalog import load_catalog
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import (
    INTERNAL_MEMBER_CLUSTER,
    member_namespace,
)
from infleet.api.kubernetes import NODE, POD
from infleet.fleet.member.heartbeat import Heartbeat, HeartbeatSettings
from infleet.kube.api_error import KubeAPIError
from infleet.kube.backoff import ExponentialBackoff
from infleet.kube.clock import ManualClock
from infleet.kube.informer import Informer


class FakeHub:
    name = "hub"

    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []
        self.down = False

    async def patch(
        self, kind: Any, name: str, patch: Any, namespace: str | None = None, **_: Any
    ) -> dict[str, Any]:
        if self.down:
            raise httpx2.ConnectError("hub is down")
        self.patches.append(patch)
        return {
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": "2"},
            "status": patch["status"],
        }


class FakeMember:
    name = "m1"

    async def probe(self, path: str = "/readyz") -> str:
        return "ok"

    async def list(self, kind: object, *args: object) -> object:
        # A cluster without the compute layer's CRDs: nothing can be provisioned there.
        raise KubeAPIError(404, "NotFound", "the server could not find the requested resource")


def imc(state: str = "Join", period: int = 10) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "m1",
            "namespace": member_namespace("m1"),
            "resourceVersion": "1",
            "generation": 1,
        },
        "spec": {"state": state, "heartbeatPeriodSeconds": period},
    }


def node(gpus: int) -> dict[str, Any]:
    resources = {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": str(gpus)}
    return {"metadata": {"name": "n", "resourceVersion": "1"}, "status": {"capacity": resources}}


def pod(name: str, gpus: int) -> dict[str, Any]:
    container = {"resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}
    return {
        "metadata": {"name": name, "namespace": "default", "resourceVersion": "1"},
        "spec": {"nodeName": "n", "containers": [container]},
    }


def heartbeat(hub: FakeHub, clock: ManualClock) -> tuple[Heartbeat, Informer, Informer]:
    imcs = Informer(hub, INTERNAL_MEMBER_CLUSTER)  # type: ignore[arg-type]
    nodes = Informer(FakeMember(), NODE)  # type: ignore[arg-type]
    pods = Informer(FakeMember(), POD)  # type: ignore[arg-type]
    settings = HeartbeatSettings(min_interval=1.0, retry=ExponentialBackoff(1.0, 8.0, jitter=0.0))
    beat = Heartbeat(
        hub, FakeMember(), "m1", (imcs, nodes, pods), load_catalog(), clock, random.Random(3), settings
    )  # type: ignore[arg-type]
    imcs._apply("ADDED", imc())
    nodes._apply("ADDED", node(8))
    return beat, imcs, pods


async def test_beats_every_period_with_at_most_five_percent_jitter() -> None:
    hub, clock = FakeHub(), ManualClock()
    beat, _, _ = heartbeat(hub, clock)
    delays = []
    for _ in range(20):
        delay = await beat.step()
        assert delay is not None
        delays.append(delay)
        await clock.advance(delay)
    assert len(hub.patches) == 20
    assert all(9.5 <= d <= 10.5 for d in delays)
    assert len(set(delays)) > 1


async def test_capacity_changes_write_at_most_once_per_interval_and_only_when_different() -> None:
    hub, clock = FakeHub(), ManualClock()
    beat, _, pods = heartbeat(hub, clock)
    await beat.step()
    pods._apply("ADDED", pod("a", 2))
    # Just after the periodic write: wait for the debounce to pass.
    assert await beat.step() == 1.0
    await clock.advance(1.0)
    await beat.step()
    assert len(hub.patches) == 2
    written = hub.patches[-1]["status"]["properties"]
    assert written["gpu.aitoolchain.io/available"]["value"] == "6"
    # A pod event that changes nothing the member reports writes nothing.
    await clock.advance(1.0)
    pods._apply("MODIFIED", {**pod("a", 2), "metadata": {**pod("a", 2)["metadata"], "resourceVersion": "2"}})
    await beat.step()
    assert len(hub.patches) == 2


async def test_an_unreachable_hub_is_retried_with_backoff_not_on_every_event() -> None:
    hub, clock = FakeHub(), ManualClock()
    beat, _, pods = heartbeat(hub, clock)
    hub.down = True
    assert await beat.step() == 1.0
    pods._apply("ADDED", pod("a", 1))
    assert await beat.step() == 1.0  # the event does not defeat the backoff
    await clock.advance(1.0)
    assert await beat.step() == 2.0
    hub.down = False
    await clock.advance(2.0)
    delay = await beat.step()
    assert delay is not None
    assert delay > 9
    assert len(hub.patches) == 1


async def test_leave_is_reported_once_and_then_nothing_is_written() -> None:
    hub, clock = FakeHub(), ManualClock()
    beat, imcs, _ = heartbeat(hub, clock)
    await beat.step()
    imcs._apply("MODIFIED", {**imc("Leave"), "metadata": {**imc()["metadata"], "resourceVersion": "3"}})
    assert await beat.step() is None
    (joined, *_) = hub.patches[-1]["status"]["agentStatus"][0]["conditions"]
    assert (joined["type"], joined["status"]) == ("Joined", "False")
    assert await beat.step() is None
    assert len(hub.patches) == 2
