"""MemberClusters as the placement scheduler sees them, and Infleet's automatic failover: a member that
has been unhealthy for longer than the placement's failover window counts as unhealthy (so PickN moves
away from it); before that, and for placements with failover off, it keeps what it holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
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


def _unhealthy_since(member: Mapping[str, Any]) -> float | None:
    """When the member's Healthy condition turned False (0.0 when unknown), None while healthy."""
    condition = get_condition((member.get("status") or {}).get("conditions"), CONDITION_HEALTHY)
    if condition is None or condition.get("status") != "False":
        return None
    since = parse_timestamp(condition.get("lastTransitionTime"))
    return since if since is not None else _UNKNOWN_SINCE


#: An unhealthy member without a transition time counts as unhealthy for 0 seconds, from any ``now``.
_UNKNOWN_SINCE = float("inf")


def _down_for(since: float | None, now: float) -> float | None:
    if since is None:
        return None
    return 0.0 if since == _UNKNOWN_SINCE else max(0.0, now - since)


def unhealthy_for(member: Mapping[str, Any], now: float) -> float | None:
    """Seconds the member has been unhealthy, None while it is healthy (or not yet judged)."""
    return _down_for(_unhealthy_since(member), now)


def _last_heartbeat(member: Mapping[str, Any]) -> float | None:
    for agent in (member.get("status") or {}).get("agentStatus") or []:
        if agent.get("type") == MEMBER_AGENT:
            return parse_timestamp(agent.get("lastReceivedHeartbeat"))
    return None


@dataclass(frozen=True)
class MemberView:
    """What the scheduler reads of one MemberCluster version, parsed once: everything but the time.
    ``labels`` and ``properties`` are read-only views, so the placement profile's caches may key
    them by identity while this version of the member lives."""

    name: str
    labels: Mapping[str, str]
    properties: Mapping[str, str]
    taints: tuple[Taint, ...]
    joined: bool
    unhealthy_since: float | None
    heartbeat: float | None
    deleting: bool

    @classmethod
    def of(cls, member: Mapping[str, Any]) -> MemberView:
        metadata = member.get("metadata") or {}
        status = member.get("status") or {}
        properties = {name: str(p.get("value", "")) for name, p in (status.get("properties") or {}).items()}
        return cls(
            name=metadata["name"],
            labels=MappingProxyType(dict(metadata.get("labels") or {})),
            properties=MappingProxyType(properties),
            taints=tuple(Taint.model_validate(t) for t in (member.get("spec") or {}).get("taints") or ()),
            joined=is_true(status.get("conditions"), CONDITION_JOINED),
            unhealthy_since=_unhealthy_since(member),
            heartbeat=_last_heartbeat(member),
            deleting=bool(metadata.get("deletionTimestamp")),
        )

    def candidate(self, now: float, failover: Failover, holds_binding: bool) -> ClusterCandidate:
        down_for = _down_for(self.unhealthy_since, now)
        failed_over = failover.enabled and down_for is not None and down_for >= failover.after_seconds
        age = max(0.0, now - self.heartbeat) if self.heartbeat is not None else None
        if holds_binding and not failed_over:
            age = 0.0  # sticky: what a cluster holds stays until failover says otherwise (KubeFleet's rule)
        return ClusterCandidate(
            name=self.name,
            labels=self.labels,
            properties=self.properties,
            taints=self.taints,
            joined=self.joined,
            healthy=not failed_over,
            seconds_since_heartbeat=age,
            deleting=self.deleting,
        )


def candidate(
    member: Mapping[str, Any], now: float, failover: Failover, holds_binding: bool
) -> ClusterCandidate:
    return MemberView.of(member).candidate(now, failover, holds_binding)


class MemberViews:
    """:class:`MemberView` per member, parsed again only when its resourceVersion moves. Every
    scheduling cycle reads all members; parsing 1,000 of them per cycle was a third of its time."""

    def __init__(self) -> None:
        self._views: dict[str, tuple[str, MemberView]] = {}
        #: The last candidate built per member view, with what it was built for.
        self._candidates: dict[str, tuple[MemberView, tuple[Any, ...], ClusterCandidate]] = {}

    def candidate(
        self, view: MemberView, now: float, failover: Failover, holds_binding: bool
    ) -> ClusterCandidate:
        """``view.candidate(...)``, reused while the view, the second and the arguments are the same:
        every placement of a burst reads all 1,000 members, and building them was a fifth of a cycle.
        (Heartbeat ages in whole seconds are all eligibility and failover need of them.)"""
        key = (int(now), failover, holds_binding)
        known = self._candidates.get(view.name)
        if known is not None and known[0] is view and known[1] == key:
            return known[2]
        built = view.candidate(float(int(now)), failover, holds_binding)
        self._candidates[view.name] = (view, key, built)
        return built

    def of(self, members: Iterable[Mapping[str, Any]]) -> list[MemberView]:
        views: dict[str, tuple[str, MemberView]] = {}
        for member in members:
            metadata = member.get("metadata") or {}
            version = str(metadata.get("resourceVersion") or "")
            known = self._views.get(metadata["name"])
            if known is None or not version or known[0] != version:
                known = (version, MemberView.of(member))
            views[metadata["name"]] = known
        self._views = views  # members gone from the list are forgotten
        if len(self._candidates) > len(views):
            self._candidates = {n: c for n, c in self._candidates.items() if n in views}
        return [view for _, view in views.values()]


def next_failover(members: Iterable[MemberView], now: float, failover: Failover) -> float | None:
    """Seconds until the next unhealthy member crosses the failover window, to requeue then."""
    if not failover.enabled:
        return None
    waits = [
        failover.after_seconds - down
        for member in members
        if (down := _down_for(member.unhealthy_since, now)) is not None and down < failover.after_seconds
    ]
    return min(waits) if waits else None
