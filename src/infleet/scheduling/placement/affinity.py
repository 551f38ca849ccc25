"""ClusterAffinity: the required terms as a filter (ORed; each labelSelector AND propertySelector) and
the preferred terms as a scorer (weights summed, property sorters interpolated between the min and max of
the scored clusters, as KubeFleet does). The scorer keeps each cluster's raw KubeFleet score in the cycle
state so decisions can show it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from infleet.api.placement_kubernetes_fleet_io.v1beta1.policy import (
    ClusterAffinity,
    PreferredClusterSelector,
)
from infleet.scheduling.framework import SUCCESS, Code, Status
from infleet.scheduling.placement.cluster import ClusterCandidate
from infleet.scheduling.placement.cycle import PlacementCycle
from infleet.scheduling.placement.selectors import term_failure

#: KubeFleet allows 10 preferred terms of weight -100..100, so raw scores lie in [-1000, 1000].
AFFINITY_BOUND = 1000
RAW_SCORES = "ClusterAffinity/raw"


def _cluster_affinity(cycle: PlacementCycle) -> ClusterAffinity | None:
    policy = cycle.request.policy
    if policy is None or policy.affinity is None:
        return None
    return policy.affinity.cluster_affinity


class ClusterAffinityFilter:
    name = "ClusterAffinity"

    def filter(self, cycle: PlacementCycle, cluster: ClusterCandidate) -> Status:
        affinity = _cluster_affinity(cycle)
        required = affinity.required_during_scheduling_ignored_during_execution if affinity else None
        if required is None or not required.cluster_selector_terms:
            return SUCCESS
        failures = []
        for term in required.cluster_selector_terms:
            failure = term_failure(term, cluster)
            if not failure:
                return SUCCESS
            failures.append(failure)
        # A label or property mismatch is not fixed by waiting; the hub reschedules on cluster changes.
        detail = (
            failures[0] if len(failures) == 1 else "; ".join(f"term {i}: {f}" for i, f in enumerate(failures))
        )
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, self.name, f"no required term matches: {detail}")


def sorter_score(value: Decimal, low: Decimal, high: Decimal, weight: int, descending: bool) -> int:
    """KubeFleet's interpolation: Descending round((v-min)/(max-min)*w), Ascending
    round((1-(v-min)/(max-min))*w); all values equal gives 0. Python's round is half-to-even where Go's
    math.Round is half-away-from-zero, so round half away here to match KubeFleet's numbers."""
    if high == low:
        return 0
    fraction = (value - low) / (high - low)
    exact = (fraction if descending else 1 - fraction) * weight
    return int(exact.to_integral_value(rounding="ROUND_HALF_UP"))


def _term_scores(term: PreferredClusterSelector, clusters: Sequence[ClusterCandidate]) -> list[int]:
    preference = term.preference
    matching = [not term_failure(preference, c) for c in clusters]
    sorter = preference.property_sorter
    if sorter is None:
        return [term.weight if ok else 0 for ok in matching]
    values = [c.quantity(sorter.name) if ok else None for c, ok in zip(clusters, matching, strict=True)]
    known = [v for v in values if v is not None]
    if not known:
        return [0] * len(clusters)
    low, high = min(known), max(known)
    descending = sorter.sort_order == "Descending"
    return [0 if v is None else sorter_score(v, low, high, term.weight, descending) for v in values]


class PreferredAffinityScorer:
    """Normalized as (raw + 1000) / 2000 so the default profile weight of 2000 turns one unit of
    KubeFleet affinity into one point of the total: user weights keep their meaning next to cost."""

    name = "ClusterAffinity"

    def score(self, cycle: PlacementCycle, clusters: Sequence[ClusterCandidate]) -> list[float]:
        affinity = _cluster_affinity(cycle)
        terms = (affinity.preferred_during_scheduling_ignored_during_execution or []) if affinity else []
        raw = [0] * len(clusters)
        for term in terms:
            raw = [r + s for r, s in zip(raw, _term_scores(term, clusters), strict=True)]
        store = cycle.state.memo(RAW_SCORES, dict[str, int])
        store.update((c.name, r) for c, r in zip(clusters, raw, strict=True))
        return [(r + AFFINITY_BOUND) / (2 * AFFINITY_BOUND) for r in raw]
