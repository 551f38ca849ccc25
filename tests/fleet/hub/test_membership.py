"""The hub's membership controller: health judged on a manual clock, labels mirrored from properties,
and join, heartbeat timeout and leave against an embedded hub."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import (
    INTERNAL_MEMBER_CLUSTER,
    MEMBER_AGENT,
    MEMBER_CLUSTER,
)
from infleet.api.fleet_properties import CLOUD, NODE_COUNT, REGION, TOTAL_GPUS
from infleet.api.kubernetes import NAMESPACE
from infleet.api.labels import (
    CLOUD_LABEL,
    MEMBER_CLUSTER_FINALIZER,
    MEMBER_NAME_LABEL,
    MIRRORED_LABELS_ANNOTATION,
    REGION_LABEL,
    WORK_CLEANUP_FINALIZER,
)
from infleet.api.placement_kubernetes_fleet_io.v1beta1.work import WORK
from infleet.fleet.hub.hub_settings import HubSettings
from infleet.fleet.hub.member_health import (
    AGENT_NOT_REPORTING,
    AGENT_REPORTED_UNHEALTHY,
    HEARTBEAT_FRESH,
    HEARTBEAT_TIMEOUT,
    evaluate_health,
)
from infleet.fleet.hub.topology_labels import metadata_patch
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import ManualClock
from infleet.kube.conditions import get_condition, timestamp
from tests.fleet.hub.conftest import Hub, rfc3339_now, until

# -- health, on a manual clock ------------------------------------------------------------------------


def agent(heartbeat: float | None, healthy: str = "True", message: str = "") -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": MEMBER_AGENT,
        "conditions": [
            {"type": "Joined", "status": "True", "reason": "Joined"},
            {"type": "Healthy", "status": healthy, "reason": "Probe", "message": message},
        ],
    }
    if heartbeat is not None:
        entry["lastReceivedHeartbeat"] = timestamp(heartbeat)
    return entry


def test_threshold_is_three_periods_but_at_least_fifteen_seconds() -> None:
    settings = HubSettings()
    assert settings.heartbeat_timeout(60) == 180
    assert settings.heartbeat_timeout(2) == 15
    assert HubSettings(heartbeat_timeout_seconds=7).heartbeat_timeout(60) == 7


def test_a_fresh_heartbeat_is_healthy_until_the_threshold_then_times_out() -> None:
    clock = ManualClock()
    settings = HubSettings()
    beat = agent(clock.wall())
    fresh = evaluate_health(beat, 10, clock.wall(), settings)
    assert (fresh.status, fresh.reason) == ("True", HEARTBEAT_FRESH)
    assert fresh.recheck_at == clock.wall() + 30  # when it would go stale: the controller requeues then
    clock._now += 30  # exactly at the threshold it still counts
    assert evaluate_health(beat, 10, clock.wall(), settings).status == "True"
    clock._now += 1
    stale = evaluate_health(beat, 10, clock.wall(), settings)
    assert (stale.status, stale.reason, stale.recheck_at) == ("False", HEARTBEAT_TIMEOUT, None)
    assert "31s" in stale.message
    assert "threshold 30s" in stale.message


def test_a_timeout_message_keeps_its_age_so_the_same_silence_writes_nothing() -> None:
    clock = ManualClock()
    beat = agent(clock.wall())
    first = evaluate_health(beat, 10, clock.wall() + 40, HubSettings())
    previous = {"type": "Healthy", "status": "False", "reason": first.reason, "message": first.message}
    later = evaluate_health(beat, 10, clock.wall() + 90, HubSettings(), previous)
    assert later.message == first.message
    newer_beat = agent(clock.wall() + 50)
    again = evaluate_health(newer_beat, 10, clock.wall() + 100, HubSettings(), previous)
    assert again.message != first.message  # another silence, told anew


def test_the_agents_unhealthy_verdict_is_copied_while_its_heartbeat_is_fresh() -> None:
    clock = ManualClock()
    beat = agent(clock.wall(), healthy="False", message="readyz: etcd not ready")
    verdict = evaluate_health(beat, 10, clock.wall() + 1, HubSettings())
    assert (verdict.status, verdict.reason, verdict.message) == (
        "False",
        AGENT_REPORTED_UNHEALTHY,
        "readyz: etcd not ready",
    )
    assert verdict.recheck_at is not None  # it still goes stale if the agent falls silent
    assert evaluate_health(beat, 10, clock.wall() + 60, HubSettings()).reason == HEARTBEAT_TIMEOUT


def test_a_member_never_heard_from_is_unknown() -> None:
    verdict = evaluate_health(None, 10, ManualClock().wall(), HubSettings())
    assert (verdict.status, verdict.reason) == ("Unknown", AGENT_NOT_REPORTING)
    assert evaluate_health(agent(None), 10, 0.0, HubSettings()).reason == AGENT_NOT_REPORTING


# -- labels -------------------------------------------------------------------------------------------


def member(labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "a", "labels": labels or {}, "annotations": annotations or {}}}


def test_region_and_cloud_are_mirrored_unless_the_user_set_them() -> None:
    properties = {REGION: {"value": "us-east"}, CLOUD: {"value": "azure"}}
    patch = metadata_patch(member(), properties)
    assert patch == {
        "labels": {MEMBER_NAME_LABEL: "a", REGION_LABEL: "us-east", CLOUD_LABEL: "azure"},
        "annotations": {MIRRORED_LABELS_ANNOTATION: f"{CLOUD_LABEL},{REGION_LABEL}"},
    }
    users = member({MEMBER_NAME_LABEL: "a", REGION_LABEL: "eu"})
    assert metadata_patch(users, properties) == {
        "labels": {CLOUD_LABEL: "azure"},
        "annotations": {MIRRORED_LABELS_ANNOTATION: CLOUD_LABEL},
    }
    owned = member(
        {MEMBER_NAME_LABEL: "a", REGION_LABEL: "us-east", CLOUD_LABEL: "azure"},
        {MIRRORED_LABELS_ANNOTATION: f"{CLOUD_LABEL},{REGION_LABEL}"},
    )
    assert metadata_patch(owned, properties) is None
    assert metadata_patch(owned, {REGION: {"value": "us-west"}}) == {"labels": {REGION_LABEL: "us-west"}}


# -- against an embedded hub ------------------------------------------------------------------------


def member_cluster(name: str, period: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": MEMBER_CLUSTER.api_version,
        "kind": MEMBER_CLUSTER.kind,
        "metadata": {"name": name},
        "spec": {"heartbeatPeriodSeconds": period},
    }


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    return get_condition(((obj or {}).get("status") or {}).get("conditions"), type_) or {}


async def report(hub: Hub, name: str, joined: str = "True", healthy: str = "True") -> None:
    """Write the InternalMemberCluster status as the member agent does on each heartbeat."""
    status = {
        "agentStatus": [
            {
                "type": MEMBER_AGENT,
                "lastReceivedHeartbeat": rfc3339_now(),
                "conditions": [
                    {
                        "type": "Joined",
                        "status": joined,
                        "reason": "AgentJoined",
                        "message": "",
                        "lastTransitionTime": rfc3339_now(),
                    },
                    {
                        "type": "Healthy",
                        "status": healthy,
                        "reason": "Probe",
                        "message": "",
                        "lastTransitionTime": rfc3339_now(),
                    },
                ],
            }
        ],
        "properties": {
            NODE_COUNT: {"value": "3"},
            TOTAL_GPUS: {"value": "16"},
            REGION: {"value": "us-east"},
            CLOUD: {"value": "azure"},
        },
        "resourceUsage": {"capacity": {"cpu": "96"}},
    }
    await hub.client.patch(
        INTERNAL_MEMBER_CLUSTER, name, {"status": status}, f"fleet-member-{name}", subresource="status"
    )


async def joined_member(hub: Hub, name: str) -> None:
    await hub.client.create(MEMBER_CLUSTER, member_cluster(name))
    await until(lambda: hub.get(INTERNAL_MEMBER_CLUSTER, name, f"fleet-member-{name}"))
    await report(hub, name)

    async def healthy() -> bool:
        obj = await hub.get(MEMBER_CLUSTER, name)
        return (
            condition(obj, "Joined").get("status") == "True"
            and condition(obj, "Healthy").get("status") == "True"
        )

    await until(healthy, what="member joined and healthy")


async def test_a_new_member_gets_its_namespace_internal_member_cluster_label_and_ready_to_join(
    hub: Hub,
) -> None:
    await hub.client.create(MEMBER_CLUSTER, member_cluster("a", period=7))

    async def ready() -> dict[str, Any] | None:
        obj = await hub.get(MEMBER_CLUSTER, "a")
        return obj if condition(obj, "ReadyToJoin").get("status") == "True" else None

    obj = await until(ready, what="ReadyToJoin")
    assert obj["metadata"]["labels"][MEMBER_NAME_LABEL] == "a"
    assert MEMBER_CLUSTER_FINALIZER in obj["metadata"]["finalizers"]
    assert (condition(obj, "Joined")["status"], condition(obj, "Healthy")["reason"]) == (
        "Unknown",
        AGENT_NOT_REPORTING,
    )
    namespace = await hub.get(NAMESPACE, "fleet-member-a")
    assert namespace is not None
    imc = await hub.get(INTERNAL_MEMBER_CLUSTER, "a", "fleet-member-a")
    assert imc is not None
    assert imc["spec"] == {"state": "Join", "heartbeatPeriodSeconds": 7}


async def test_the_agents_report_is_copied_and_a_silent_member_turns_unhealthy(hub: Hub) -> None:
    await joined_member(hub, "a")
    obj = await hub.get(MEMBER_CLUSTER, "a")
    assert obj is not None
    status = obj["status"]
    assert status["properties"][TOTAL_GPUS]["value"] == "16"
    assert status["resourceUsage"]["capacity"] == {"cpu": "96"}
    assert status["agentStatus"][0]["type"] == MEMBER_AGENT
    assert condition(obj, "Healthy")["reason"] == HEARTBEAT_FRESH
    labels = obj["metadata"]["labels"]
    assert (labels[REGION_LABEL], labels[CLOUD_LABEL]) == ("us-east", "azure")
    flipped_at = condition(obj, "Healthy")["lastTransitionTime"]

    # No more heartbeats: nothing writes, yet the hub notices within the threshold (1.5 s here).
    async def unhealthy() -> dict[str, Any] | None:
        current = await hub.get(MEMBER_CLUSTER, "a")
        return current if condition(current, "Healthy").get("status") == "False" else None

    stale = await until(unhealthy, within=4.0, what="Healthy False after the heartbeat stopped")
    healthy = condition(stale, "Healthy")
    assert healthy["reason"] == HEARTBEAT_TIMEOUT
    assert "no heartbeat" in healthy["message"]
    assert healthy["lastTransitionTime"] >= flipped_at

    await report(hub, "a", healthy="False")

    async def agent_unhealthy() -> bool:
        return (
            condition(await hub.get(MEMBER_CLUSTER, "a"), "Healthy").get("reason") == AGENT_REPORTED_UNHEALTHY
        )

    await until(agent_unhealthy, what="the agent's own verdict")


async def test_a_deleted_member_leaves_and_its_namespace_is_cleaned_up(hub: Hub) -> None:
    hub.settings.leave_timeout_seconds = 30  # so only the agent's acknowledgement ends the wait
    await joined_member(hub, "a")
    work = {
        "apiVersion": WORK.api_version,
        "kind": WORK.kind,
        "metadata": {"name": "crp-a", "namespace": "fleet-member-a", "finalizers": [WORK_CLEANUP_FINALIZER]},
        "spec": {"workload": {"manifests": []}},
    }
    await hub.client.create(WORK, work)
    await hub.client.delete(MEMBER_CLUSTER, "a")

    async def leave_requested() -> bool:
        imc = await hub.get(INTERNAL_MEMBER_CLUSTER, "a", "fleet-member-a")
        return imc is not None and imc["spec"]["state"] == "Leave"

    await until(leave_requested, what="IMC state Leave")
    await asyncio.sleep(0.5)
    held = await hub.get(MEMBER_CLUSTER, "a")  # held while the agent has not acknowledged
    assert held is not None
    assert condition(held, "Joined")["reason"] == "MemberClusterLeaving"
    await report(hub, "a", joined="False")  # the agent acknowledges

    async def gone() -> bool:
        return (
            await hub.get(MEMBER_CLUSTER, "a") is None and await hub.get(NAMESPACE, "fleet-member-a") is None
        )

    await until(gone, what="member, namespace and its Work gone")
    assert await hub.get(WORK, "crp-a", "fleet-member-a") is None


async def test_a_member_whose_agent_never_acknowledges_leaves_after_the_timeout(hub: Hub) -> None:
    await joined_member(hub, "b")
    await hub.client.delete(MEMBER_CLUSTER, "b")

    async def keep_beating() -> None:
        with contextlib.suppress(KubeAPIError):  # until the hub deletes the InternalMemberCluster
            while True:
                await report(hub, "b")
                await asyncio.sleep(0.3)

    beating = asyncio.ensure_future(keep_beating())
    try:
        await until(lambda: _absent(hub, "b"), within=6.0, what="member gone after the leave timeout (1 s)")
    finally:
        beating.cancel()


async def _absent(hub: Hub, name: str) -> bool:
    return await hub.get(MEMBER_CLUSTER, name) is None


async def test_a_leaving_member_whose_agent_falls_silent_is_not_waited_for(hub: Hub) -> None:
    hub.settings.leave_timeout_seconds = 30
    await joined_member(hub, "c")
    await hub.client.delete(MEMBER_CLUSTER, "c")
    # No acknowledgement and no more heartbeats: the hub stops waiting once the heartbeat is stale (1.5 s).
    await until(lambda: _absent(hub, "c"), within=5.0, what="member gone once its agent went silent")
