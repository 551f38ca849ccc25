"""The placement scheduler's answer: the selected clusters in order, every cluster left out with the
plugin and numbers that decided it, and whether the policy is fulfilled. The hub writes it into the
policy snapshot's ``status.targetClusters`` (``to_api``) and the placement's Scheduled condition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import overload

from infleet.api.placement_kubernetes_fleet_io.v1beta1.snapshots import ClusterDecision, ClusterScore
from infleet.api.sizing import Plan
from infleet.scheduling.framework import Code

#: KubeFleet records the selected clusters plus at most this many unselected ones.
MAX_UNSELECTED_DECISIONS = 20
#: ``clusterScore.priorityScore`` carries our weighted total, scaled to keep two decimals in an int.
PRIORITY_SCALE = 100


@dataclass(frozen=True, slots=True)
class ClusterOutcome:
    """What happened to one cluster. `score` is the weighted total of the profile's scorers (None for a
    cluster rejected before scoring); `affinity_score` and `topology_spread_score` are KubeFleet's raw
    integers, so users comparing with KubeFleet read the same numbers. `code` says whether waiting can
    change a rejection (UNSCHEDULABLE) or not (UNSCHEDULABLE_AND_UNRESOLVABLE)."""

    cluster: str
    selected: bool
    reason: str
    score: float | None = None
    affinity_score: int | None = None
    topology_spread_score: int | None = None
    plugin: str = ""
    code: Code = Code.SUCCESS
    #: For a selected cluster with GPU demands: the plan per demand (in the request's order) and the
    #: $/hour of all their replicas there, so the hub can pin the shape the cost was computed for.
    plans: tuple[Plan, ...] = ()
    cost_per_hour: float | None = None

    def to_api(self) -> ClusterDecision:
        score = None
        if self.score is not None:
            score = ClusterScore(
                affinity_score=self.affinity_score,
                topology_spread_score=self.topology_spread_score,
                priority_score=round(self.score * PRIORITY_SCALE),
            )
        return ClusterDecision(
            cluster_name=self.cluster, selected=self.selected, cluster_score=score, reason=self.reason
        )


class LazyOutcomes(Sequence[ClusterOutcome]):
    """Outcomes built on first read, each once: a cycle over 1,000 clusters reports twenty of them."""

    def __init__(self, pending: list[Callable[[], ClusterOutcome]]) -> None:
        self._pending = pending
        self._built: dict[int, ClusterOutcome] = {}

    def __len__(self) -> int:
        return len(self._pending)

    @overload
    def __getitem__(self, index: int) -> ClusterOutcome: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ClusterOutcome]: ...
    def __getitem__(self, index: int | slice) -> ClusterOutcome | Sequence[ClusterOutcome]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        if index < 0:
            index += len(self)
        found = self._built.get(index)
        if found is None:
            found = self._built[index] = self._pending[index]()
        return found

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class PlacementDecision:
    """`selected` is in preference order (best first); `unselected` lists every other cluster considered,
    rejected ones first. `missing` are PickFixed names that are not member clusters. `message` explains an
    unfulfilled policy ("PickN wanted 3 clusters, found 2: ...") and is empty when fulfilled."""

    placement: str
    selected: tuple[ClusterOutcome, ...]
    unselected: Sequence[ClusterOutcome]
    fulfilled: bool
    message: str = ""
    missing: tuple[str, ...] = ()

    @property
    def cluster_names(self) -> tuple[str, ...]:
        return tuple(outcome.cluster for outcome in self.selected)

    @property
    def retry_may_help(self) -> bool:
        """False when every rejection is unresolvable: only a policy or label change can do better."""
        return not self.fulfilled and any(
            o.code is not Code.UNSCHEDULABLE_AND_UNRESOLVABLE for o in self.unselected
        )

    def target_clusters(self, max_unselected: int = MAX_UNSELECTED_DECISIONS) -> list[ClusterDecision]:
        """Decisions as KubeFleet's snapshot status lists them: all selected, then some unselected."""
        return [o.to_api() for o in self.selected] + [o.to_api() for o in self.unselected[:max_unselected]]
