"""Topology spread while PickN picks greedily: per constraint, how many picked clusters each value of
the topology label holds, whether one more pick in a domain keeps the skew within maxSkew, and
KubeFleet's score for it (-(skew change), and -1000 for a ScheduleAnyway violation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infleet.api.placement_kubernetes_fleet_io.v1beta1.policy import TopologySpreadConstraint
from infleet.scheduling.placement.cluster import ClusterCandidate

#: KubeFleet's score for a pick that violates a ScheduleAnyway constraint.
SOFT_VIOLATION_SCORE = -1000


@dataclass(frozen=True, slots=True)
class SpreadVerdict:
    """`blocked` names the DoNotSchedule constraint a pick would break ("" when allowed); `score` is the
    summed KubeFleet topology spread score of the pick."""

    blocked: str
    score: int


class SpreadTracker:
    """Domains are the label values of the feasible clusters, so a domain with no pick yet counts as 0
    and drives the minimum, as kube-scheduler's PodTopologySpread counts eligible domains."""

    def __init__(self, constraints: Sequence[TopologySpreadConstraint], feasible: Sequence[ClusterCandidate]):
        self._constraints = list(constraints)
        self._counts: list[dict[str, int]] = [
            {c.labels[k.topology_key]: 0 for c in feasible if k.topology_key in c.labels}
            for k in self._constraints
        ]

    @property
    def constrained(self) -> bool:
        return bool(self._constraints)

    def add(self, cluster: ClusterCandidate) -> None:
        for constraint, counts in zip(self._constraints, self._counts, strict=True):
            domain = cluster.labels.get(constraint.topology_key)
            if domain is not None:
                counts[domain] = counts.get(domain, 0) + 1

    def verdict(self, cluster: ClusterCandidate) -> SpreadVerdict:
        score = 0
        for constraint, counts in zip(self._constraints, self._counts, strict=True):
            key, hard = constraint.topology_key, constraint.when_unsatisfiable == "DoNotSchedule"
            domain = cluster.labels.get(key)
            if domain is None:
                if hard:  # kube-scheduler: a node without the key cannot satisfy a hard constraint
                    return SpreadVerdict(f"has no label {key} for topologySpreadConstraints", 0)
                continue
            before = _skew(counts)
            after = _skew({**counts, domain: counts.get(domain, 0) + 1})
            if after > constraint.max_skew and after > before:
                if hard:
                    return SpreadVerdict(
                        f"one more cluster in {key}={domain} makes the skew {after}, over maxSkew "
                        f"{constraint.max_skew} (DoNotSchedule)",
                        0,
                    )
                score += SOFT_VIOLATION_SCORE
            score -= after - before
        return SpreadVerdict("", score)


def _skew(counts: dict[str, int]) -> int:
    return max(counts.values()) - min(counts.values()) if counts else 0
