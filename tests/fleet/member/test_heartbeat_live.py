"""The heartbeat against an embedded hub and member: status on the InternalMemberCluster, a capacity
change reported long before the next periodic beat, Leave, and an unreachable hub."""

from __future__ import annotations

import asyncio
from typing import Any

from infleet.api import fleet_properties as fp
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import INTERNAL_MEMBER_CLUSTER
from infleet.api.kubernetes import NODE, POD
from infleet.api.labels import CLOUD_LABEL, GPU_COUNT_LABEL, GPU_PRODUCT_LABEL, PRICE_LABEL, REGION_LABEL
from infleet.kube.conditions import get_condition
from tests.fleet.member.conftest import MEMBER, NS, Fleet, until


def h100_node(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                GPU_PRODUCT_LABEL: "NVIDIA-H100-80GB-HBM3",
                GPU_COUNT_LABEL: "8",
                REGION_LABEL: "eastus",
                CLOUD_LABEL: "azure",
                PRICE_LABEL: "80",
            },
        },
        "status": {
            "capacity": {"cpu": "96", "memory": "1024Gi", "nvidia.com/gpu": "8"},
            "allocatable": {"cpu": "95", "memory": "1000Gi", "nvidia.com/gpu": "8"},
        },
    }


def gpu_pod(name: str, node: str, gpus: int) -> dict[str, Any]:
    container = {"name": "engine", "image": "vllm", "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node, "containers": [container]},
    }


def imc(state: str, period: int) -> dict[str, Any]:
    return {
        "apiVersion": INTERNAL_MEMBER_CLUSTER.api_version,
        "kind": INTERNAL_MEMBER_CLUSTER.kind,
        "metadata": {"name": MEMBER, "namespace": NS},
        "spec": {"state": state, "heartbeatPeriodSeconds": period},
    }


def agent_condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    agents = (obj.get("status") or {}).get("agentStatus") or []
    return get_condition(agents[0].get("conditions") if agents else None, type_)


def prop(obj: dict[str, Any], name: str) -> str | None:
    return (((obj.get("status") or {}).get("properties") or {}).get(name) or {}).get("value")


async def test_a_joined_member_reports_health_and_gpu_properties(fleet: Fleet) -> None:
    await fleet.member.create(NODE, h100_node("gpu-1"))
    await fleet.hub.create(INTERNAL_MEMBER_CLUSTER, imc("Join", 1))

    async def reported() -> dict[str, Any] | None:
        got = await fleet.hub.get(INTERNAL_MEMBER_CLUSTER, MEMBER, NS)
        return got if prop(got, fp.sku_property("H100", fp.SKU_AVAILABLE)) == "8" else None

    got = await until(reported, what="properties on the InternalMemberCluster")
    assert (agent_condition(got, "Joined") or {}).get("status") == "True"
    healthy = agent_condition(got, "Healthy") or {}
    assert healthy.get("status") == "True", healthy
    assert got["status"]["agentStatus"][0]["type"] == "MemberAgent"
    assert got["status"]["agentStatus"][0]["lastReceivedHeartbeat"]
    assert prop(got, fp.NODE_COUNT) == "1"
    assert prop(got, fp.REGION) == "eastus"
    assert prop(got, fp.CLOUD) == "azure"
    assert prop(got, fp.sku_property("H100", fp.SKU_GPU_HOUR_COST)) == "10"
    assert prop(got, fp.sku_property("H100", "slots-8")) == "1"
    assert got["status"]["resourceUsage"]["allocatable"] == {
        "cpu": "95",
        "memory": "1000Gi",
        "nvidia.com/gpu": "8",
    }
    collected = get_condition(got["status"]["conditions"], "ClusterPropertyCollectionSucceeded") or {}
    assert collected.get("status") == "True"
    # Periodic beats move lastReceivedHeartbeat (second precision) about every second.
    first = got["status"]["agentStatus"][0]["lastReceivedHeartbeat"]

    async def beat_again() -> bool:
        now = await fleet.hub.get(INTERNAL_MEMBER_CLUSTER, MEMBER, NS)
        return bool(now["status"]["agentStatus"][0]["lastReceivedHeartbeat"] != first)

    await until(beat_again, within=4, what="a second periodic heartbeat")


async def test_capacity_changes_are_reported_before_the_next_periodic_beat(fleet: Fleet) -> None:
    await fleet.member.create(NODE, h100_node("gpu-1"))
    await fleet.hub.create(INTERNAL_MEMBER_CLUSTER, imc("Join", 600))
    available = fp.sku_property("H100", fp.SKU_AVAILABLE)

    async def shows(value: str) -> bool:
        return prop(await fleet.hub.get(INTERNAL_MEMBER_CLUSTER, MEMBER, NS), available) == value

    await until(lambda: shows("8"), what="the first heartbeat")
    beats = fleet.agent.heartbeat.beats
    await fleet.member.create(POD, gpu_pod("engine-0", "gpu-1", 3))
    await until(lambda: shows("5"), within=3, what="the change-triggered write (period is 600 s)")
    got = await fleet.hub.get(INTERNAL_MEMBER_CLUSTER, MEMBER, NS)
    assert prop(got, fp.sku_property("H100", fp.SKU_LARGEST_FREE_BLOCK)) == "5"
    assert prop(got, fp.sku_property("H100", fp.SKU_FREE_NODES)) == "0"
    # One write for the pod (a node event still in flight from the start may add one more; the agent
    # counts a write once the hub's answer is back, a moment after the test can read it), and no
    # periodic beat: the next one is 600 s away.

    async def counted() -> bool:
        return fleet.agent.heartbeat.beats > beats

    await until(counted, within=1, what="the agent to count its write")
    assert fleet.agent.heartbeat.beats - beats in (1, 2)


async def test_leave_marks_the_agent_not_joined(fleet: Fleet) -> None:
    await fleet.hub.create(INTERNAL_MEMBER_CLUSTER, imc("Join", 1))

    async def joined(status: str) -> bool:
        got = await fleet.hub.get(INTERNAL_MEMBER_CLUSTER, MEMBER, NS)
        return (agent_condition(got, "Joined") or {}).get("status") == status

    await until(lambda: joined("True"), what="Joined True")
    await fleet.hub.patch(INTERNAL_MEMBER_CLUSTER, MEMBER, {"spec": {"state": "Leave"}}, NS)
    await until(lambda: joined("False"), what="Joined False after Leave")


async def test_an_unreachable_hub_is_retried_until_it_answers(fleet: Fleet) -> None:
    await fleet.hub.create(INTERNAL_MEMBER_CLUSTER, imc("Join", 1))

    async def heartbeat() -> str | None:
        got = await fleet.hub.get(INTERNAL_MEMBER_CLUSTER, MEMBER, NS)
        agents = (got.get("status") or {}).get("agentStatus") or []
        return str(agents[0]["lastReceivedHeartbeat"]) if agents else None

    await until(heartbeat, what="a first heartbeat")
    fleet.server.set_cluster_reachable("hub", False)
    beats = fleet.agent.heartbeat.beats
    await asyncio.sleep(1.5)
    assert fleet.agent.heartbeat.beats == beats
    fleet.server.set_cluster_reachable("hub", True)
    before = await heartbeat()
    await until(lambda: _after(heartbeat, before), within=4, what="heartbeats once the hub is back")


async def _after(read: Any, before: str | None) -> bool:
    now = await read()
    return bool(now and now != before)
