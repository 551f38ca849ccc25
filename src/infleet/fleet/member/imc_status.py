"""The member agent's report on its InternalMemberCluster: one pure status mutation per heartbeat.

The heartbeat builds a :class:`Report` and hands :func:`apply_report` to ``patch_status``; the hub copies
this status into the MemberCluster. Conditions keep their transition times across beats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import (
    CONDITION_HEALTHY,
    CONDITION_JOINED,
    CONDITION_PROPERTY_COLLECTION_SUCCEEDED,
    MEMBER_AGENT,
)
from infleet.fleet.member.properties import ClusterProperties
from infleet.kube.conditions import set_condition, timestamp

REASON_JOINED = "MemberAgentJoined"
REASON_LEFT = "MemberAgentLeft"
REASON_HEALTHY = "MemberAPIServerReady"
REASON_UNHEALTHY = "MemberAPIServerNotReady"
REASON_COLLECTED = "PropertiesCollected"
REASON_COLLECTION_FAILED = "PropertyCollectionFailed"


@dataclass(frozen=True)
class Report:
    """What one heartbeat says. ``properties`` is None when collection failed (``collection_error`` why);
    ``healthy`` is None when the member API server was not probed this time (the last verdict stands)."""

    joined: bool
    wall: float
    generation: int | None = None
    healthy: bool | None = None
    health_message: str = ""
    properties: ClusterProperties | None = None
    collection_error: str = ""


def _agent_status(status: dict[str, Any]) -> dict[str, Any]:
    agents: list[dict[str, Any]] = status.setdefault("agentStatus", [])
    entry = next((a for a in agents if a.get("type") == MEMBER_AGENT), None)
    if entry is None:
        entry = {"type": MEMBER_AGENT, "conditions": []}
        agents.append(entry)
    return entry


def _set_agent_conditions(entry: dict[str, Any], report: Report) -> None:
    conditions: list[dict[str, Any]] = entry.setdefault("conditions", [])
    generation, now = report.generation, report.wall
    if report.joined:
        set_condition(conditions, CONDITION_JOINED, True, REASON_JOINED, "", generation, now)
    else:
        message = "the hub set spec.state to Leave: Work is no longer applied"
        set_condition(conditions, CONDITION_JOINED, False, REASON_LEFT, message, generation, now)
    if report.healthy is not None:
        reason = REASON_HEALTHY if report.healthy else REASON_UNHEALTHY
        set_condition(
            conditions, CONDITION_HEALTHY, report.healthy, reason, report.health_message, generation, now
        )


def _set_properties(status: dict[str, Any], report: Report) -> None:
    conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
    observed = timestamp(report.wall)
    found = report.properties
    if found is None:
        # Keep the last properties: stale numbers with a False condition beat none at all for placement.
        set_condition(
            conditions,
            CONDITION_PROPERTY_COLLECTION_SUCCEEDED,
            False,
            REASON_COLLECTION_FAILED,
            report.collection_error,
            report.generation,
            report.wall,
        )
        return
    status["properties"] = {
        name: {"value": value, "observationTime": observed}
        for name, value in sorted(found.properties.items())
    }
    status["resourceUsage"] = {
        "capacity": found.capacity,
        "allocatable": found.allocatable,
        "available": found.available,
        "observationTime": observed,
    }
    set_condition(
        conditions,
        CONDITION_PROPERTY_COLLECTION_SUCCEEDED,
        True,
        REASON_COLLECTED,
        f"{len(found.properties)} properties from the member's nodes and pods",
        report.generation,
        report.wall,
    )


def apply_report(status: dict[str, Any], report: Report) -> None:
    """Write ``report`` into an InternalMemberCluster status dict (in place)."""
    entry = _agent_status(status)
    _set_agent_conditions(entry, report)
    entry["lastReceivedHeartbeat"] = timestamp(report.wall)
    if report.joined:
        _set_properties(status, report)
