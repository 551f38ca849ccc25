"""MemberClusters as the placement scheduler sees them, and Infleet's automatic failover: a member that
has been unhealthy for longer than the placement's failover window counts as unhealthy (so PickN moves
away from it); before that, and for placements with failover off, it keeps what it holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import (
    CONDITION_HEALTHY,
    CONDITION_JOINED,
    MEMBER_AGENT,
    Taint,
)
from infleet.api.labels import FAILOVER_AFTER_ANNOTATION, FAILOVER_ANNOTATION
from infleet.kube.conditions import get_condition, is_true, parse_timestamp
from infleet.scheduling.placement import ClusterCandidate


@dataclass(frozen=True)
class Failover:
    """Whether a placement fails over, and after how long a member's unhealthiness counts."""

    enabled: bool
    after_seconds: float


def failover_of(placement: Mapping[str, Any], default_after: float) -> Failover:
    """On by default for PickN; ``fleet.aitoolchain.io/failover: "false"`` turns it off."""
    metadata = placement.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    policy = (placement.get("spec") or {}).get("policy") or {}
    enabled = (
        policy.get("placementType") == "PickN" and annotations.get(FAILOVER_ANNOTATION, "true") != "false"
    )
    try:
        after = float(annotations.get(FAILOVER_AFTER_ANNOTATION, default_after))
    except ValueError:
        after = default_after
    return Failover(enabled, max(0.0, after))


def unhealthy_for(member: Mapping[str, Any], now: float) -> float | None:
    """Seconds the member has been unhealthy, None while it is healthy (or not yet judged)."""
    condition = get_condition((member.get("status") or {}).get("conditions"), CONDITION_HEALTHY)
    if condition is None or condition.get("status") != "False":
        return None
    since = parse_timestamp(condition.get("lastTransitionTime"))
    return max(0.0, now - since) if since is not None else 0.0


def _heartbeat_age(member: Mapping[str, Any], now: float) -> float | None:
    for agent in (member.get("status") or {}).get("agentStatus") or []:
        if agent.get("type") == MEMBER_AGENT:
            beat = parse_timestamp(agent.get("lastReceivedHeartbeat"))
            return max(0.0, now - beat) if beat is not None else None
    return None


def candidate(
    member: Mapping[str, Any], now: float, failover: Failover, holds_binding: bool
) -> ClusterCandidate:
    metadata = member.get("metadata") or {}
    status = member.get("status") or {}
    down_for = unhealthy_for(member, now)
    failed_over = failover.enabled and down_for is not None and down_for >= failover.after_seconds
    age = _heartbeat_age(member, now)
    if holds_binding and not failed_over:
        age = 0.0  # sticky: what a cluster holds stays until failover says otherwise (KubeFleet's rule)
    return ClusterCandidate(
        name=metadata["name"],
        labels=dict(metadata.get("labels") or {}),
        properties={name: str(p.get("value", "")) for name, p in (status.get("properties") or {}).items()},
        taints=tuple(Taint.model_validate(t) for t in (member.get("spec") or {}).get("taints") or ()),
        joined=is_true(status.get("conditions"), CONDITION_JOINED),
        healthy=not failed_over,
        seconds_since_heartbeat=age,
        deleting=bool(metadata.get("deletionTimestamp")),
    )


def next_failover(members: Iterable[Mapping[str, Any]], now: float, failover: Failover) -> float | None:
    """Seconds until the next unhealthy member crosses the failover window, to requeue then."""
    if not failover.enabled:
        return None
    waits = [
        failover.after_seconds - down
        for member in members
        if (down := unhealthy_for(member, now)) is not None and down < failover.after_seconds
    ]
    return min(waits) if waits else None
