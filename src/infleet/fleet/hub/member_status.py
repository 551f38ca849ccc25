"""The MemberCluster status the hub writes: what the member agent reported in its InternalMemberCluster
(properties, resource usage, agent status, property conditions) and the hub's own verdicts (ReadyToJoin,
Joined, Healthy). Pure mutation of a status dict, applied by the membership controller through
``patch_status`` so one write carries it all, and only when something changed.
"""

from __future__ import annotations

import copy
from typing import Any

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import (
    CONDITION_HEALTHY,
    CONDITION_JOINED,
    CONDITION_READY_TO_JOIN,
)
from infleet.fleet.hub.member_health import HealthVerdict, member_agent_status
from infleet.kube.conditions import get_condition, set_condition

# KubeFleet's reasons for ReadyToJoin and Joined.
READY_TO_JOIN = "MemberClusterReadyToJoin"
NOT_READY_TO_JOIN = "MemberClusterNotReadyToJoin"
JOINED = "MemberClusterJoined"
LEFT = "MemberClusterLeft"
JOIN_UNKNOWN = "MemberClusterJoinStateUnknown"
LEAVING = "MemberClusterLeaving"

_HUB_CONDITIONS = (CONDITION_READY_TO_JOIN, CONDITION_JOINED, CONDITION_HEALTHY)
_COPIED_FIELDS = ("properties", "resourceUsage", "agentStatus")


def joined_condition(imc_status: dict[str, Any] | None) -> tuple[str, str, str]:
    """(status, reason, message) of Joined, from the member agent's own Joined condition."""
    agent = member_agent_status(imc_status)
    reported = get_condition((agent or {}).get("conditions"), CONDITION_JOINED)
    if reported is None or reported.get("status") not in ("True", "False"):
        return "Unknown", JOIN_UNKNOWN, "waiting for the member agent to join"
    message = str(reported.get("message") or "")
    if reported["status"] == "True":
        return "True", JOINED, message or "the member agent has joined"
    return "False", LEFT, message or "the member agent has left"


def copy_reported(status: dict[str, Any], imc_status: dict[str, Any] | None) -> None:
    """Copy what the agent reported (properties, resourceUsage, agentStatus, its other conditions)."""
    reported = imc_status or {}
    for field in _COPIED_FIELDS:
        value = reported.get(field)
        if value is not None and status.get(field) != value:  # unchanged: nothing to copy
            status[field] = copy.deepcopy(value)
    conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
    for condition in reported.get("conditions") or []:
        if condition.get("type") in _HUB_CONDITIONS:
            continue  # the hub's verdicts are its own, not the agent's
        current = get_condition(conditions, condition.get("type", ""))
        if current is None:
            conditions.append(copy.deepcopy(condition))
        elif current != condition:
            current.clear()
            current.update(copy.deepcopy(condition))


def write_member_status(
    status: dict[str, Any],
    *,
    generation: int | None,
    ready_to_join: tuple[bool, str],
    imc_status: dict[str, Any] | None,
    health: HealthVerdict,
    now: float,
) -> None:
    """Mutate ``status`` into what the hub reports for a member that is (or is becoming) part of the fleet."""
    copy_reported(status, imc_status)
    conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
    ready, why = ready_to_join
    set_condition(
        conditions,
        CONDITION_READY_TO_JOIN,
        ready,
        READY_TO_JOIN if ready else NOT_READY_TO_JOIN,
        why,
        generation,
        now,
    )
    set_condition(conditions, CONDITION_JOINED, *joined_condition(imc_status), generation, now)
    set_condition(
        conditions, CONDITION_HEALTHY, health.status, health.reason, health.message, generation, now
    )
