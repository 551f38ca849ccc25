"""The placement entry point the hub's scheduler controller calls: ``schedule(request, clusters)`` runs
one cycle of the placement profile (filters, weighted scores, the policy's picker) and explains every
cluster in a `PlacementDecision`. `PlacementScheduler` holds a built profile for callers with their own.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

from infleet.api.catalog import Catalog, load_catalog
from infleet.scheduling.framework import Code, Environment, Evaluation, Selection, Status
from infleet.scheduling.placement.affinity import RAW_SCORES
from infleet.scheduling.placement.cluster import ClusterCandidate
from infleet.scheduling.placement.cycle import PlacementCycle
from infleet.scheduling.placement.decision import (
    MAX_UNSELECTED_DECISIONS,
    ClusterOutcome,
    LazyOutcomes,
    PlacementDecision,
)
from infleet.scheduling.placement.gpu_capacity import CapacityCache
from infleet.scheduling.placement.gpu_fit import gpu_fit
from infleet.scheduling.placement.pickers import SPREAD_SCORES
from infleet.scheduling.placement.profile import DEFAULT_PLACEMENT_PROFILE, build_placement_registry
from infleet.scheduling.placement.request import PlacementRequest
from infleet.scheduling.profile import Profile, ProfileSpec


class PlacementScheduler:
    """A placement profile built once (plugins validated with their arguments) and run per cycle."""

    def __init__(
        self,
        spec: ProfileSpec = DEFAULT_PLACEMENT_PROFILE,
        catalog: Catalog | None = None,
        env: Environment | None = None,
    ) -> None:
        self._catalog = catalog if catalog is not None else load_catalog()
        self._capacities = CapacityCache(self._catalog)
        self._profile: Profile[PlacementCycle, ClusterCandidate] = Profile.build(
            spec, build_placement_registry(), env or Environment()
        )

    def schedule(self, request: PlacementRequest, clusters: Sequence[ClusterCandidate]) -> PlacementDecision:
        cycle = PlacementCycle(request, self._catalog, clusters, capacities=self._capacities)
        considered = clusters
        if cycle.pick_fixed:
            # Only the listed clusters matter to PickFixed; the others are not reported at all.
            names = set(request.policy.cluster_names or []) if request.policy else set()
            considered = [c for c in clusters if c.name in names]
        evaluation, selection = self._profile.select(cycle, considered)
        return _decision(cycle, evaluation, selection)


@functools.cache
def default_scheduler() -> PlacementScheduler:
    """The default profile over the packaged catalog, built on first use (nothing happens at import)."""
    return PlacementScheduler()


def schedule(request: PlacementRequest, clusters: Sequence[ClusterCandidate]) -> PlacementDecision:
    """Runs one placement cycle with the default profile."""
    return default_scheduler().schedule(request, clusters)


def _why_picked(cycle: PlacementCycle, cluster: ClusterCandidate, total: float) -> str:
    parts = []
    affinity = cycle.state.memo(RAW_SCORES, dict[str, int]).get(cluster.name, 0)
    if affinity:
        parts.append(f"affinity {affinity}")
    spread = cycle.state.memo(SPREAD_SCORES, dict[str, int]).get(cluster.name)
    if spread:
        parts.append(f"topology spread {spread}")
    state = cycle.request.bindings.get(cluster.name)
    if cycle.request.workloads and not cycle.pick_fixed and state not in ("Scheduled", "Bound"):
        # (A placed cluster's free GPUs no longer include its own replicas: no cost to quote there.)
        fit = gpu_fit(cycle, cluster)
        parts.append(f"cost ${fit.cost_per_hour:.2f}/h ({fit.summary()})")
    if state in ("Scheduled", "Bound"):
        parts.append(f"staying put ({state})")
    parts.append(f"score {total:.2f}")
    return "picked: " + ", ".join(parts)


def _gpu_outcome(cycle: PlacementCycle, cluster: ClusterCandidate) -> dict[str, Any]:
    if not cycle.request.workloads or cycle.pick_fixed:
        return {}
    fit = gpu_fit(cycle, cluster)
    return {"plans": tuple(p.plan for p in fit.placed), "cost_per_hour": fit.cost_per_hour}


def _rejected(cluster: ClusterCandidate, status: Status, total: float | None) -> ClusterOutcome:
    reason = f"{status.plugin}: {status.reason}" if status.reason else status.plugin
    code = status.code if status.code is not Code.SUCCESS else Code.UNSCHEDULABLE
    return ClusterOutcome(cluster.name, False, reason, score=total, plugin=status.plugin, code=code)


def _outranked(
    cycle: PlacementCycle, cluster: ClusterCandidate, status: Status, total: float | None
) -> ClusterOutcome:
    """A feasible cluster the picker left out, with what it would have cost, so the choice reads."""
    outcome = _rejected(cluster, status, total)
    if not cycle.request.workloads or cycle.pick_fixed or cycle.request.bound(cluster.name):
        return outcome
    fit = gpu_fit(cycle, cluster)
    if not fit.fits:
        return outcome
    reason = f"{outcome.reason}; it would cost ${fit.cost_per_hour:.2f}/h ({fit.summary()})"
    return dataclasses.replace(outcome, reason=reason)


def _decision(
    cycle: PlacementCycle,
    evaluation: Evaluation[ClusterCandidate],
    selection: Selection[ClusterCandidate],
) -> PlacementDecision:
    totals = {c.name: t for c, t in zip(evaluation.feasible, evaluation.totals, strict=True)}
    raw = cycle.state.memo(RAW_SCORES, dict[str, int])
    spread = cycle.state.memo(SPREAD_SCORES, dict[str, int])
    selected = tuple(
        ClusterOutcome(
            c.name,
            True,
            _why_picked(cycle, c, totals[c.name]),
            score=totals[c.name],
            affinity_score=raw.get(c.name, 0),
            topology_spread_score=spread.get(c.name, 0),
            **_gpu_outcome(cycle, c),
        )
        for c in selection.selected
    )
    # Built when read: the status reports twenty, and 1,000 outcomes per cycle were a sixth of it.
    # Only the reported ones are worth a cost quote (formatting one per outranked cluster was a third).
    pending: list[Callable[[], ClusterOutcome]] = [
        functools.partial(_rejected, c, s, None) for c, s in evaluation.rejected
    ]
    for cluster, status in selection.unselected:
        total = totals.get(cluster.name)
        if len(pending) < MAX_UNSELECTED_DECISIONS:
            pending.append(functools.partial(_outranked, cycle, cluster, status, total))
        else:
            pending.append(functools.partial(_rejected, cluster, status, total))
    missing: tuple[str, ...] = ()
    if cycle.pick_fixed and cycle.request.policy is not None:
        known = {c.name for c in cycle.clusters}
        missing = tuple(n for n in cycle.request.policy.cluster_names or [] if n not in known)
        pending += [
            functools.partial(ClusterOutcome, n, False, "PickFixed: not a member cluster", plugin="PickFixed")
            for n in missing
        ]
    unselected = LazyOutcomes(pending)
    return PlacementDecision(
        placement=cycle.request.name,
        selected=selected,
        unselected=unselected,
        fulfilled=not selection.unfulfilled,
        message=selection.unfulfilled,
        missing=missing,
    )
