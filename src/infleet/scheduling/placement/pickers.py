"""The placement pickers, one per policy type: PickAll takes every feasible cluster, PickFixed exactly the
listed names, PickN keeps what is bound and still feasible, adds the best-scoring clusters up to N under
topology spread, and drops the lowest-scored when N shrinks. `PolicyPicker` dispatches on the type.
"""

from __future__ import annotations

from dataclasses import dataclass

from infleet.scheduling.framework import Code, Evaluation, Selection, Status
from infleet.scheduling.placement.cluster import ClusterCandidate
from infleet.scheduling.placement.cycle import PlacementCycle
from infleet.scheduling.placement.decision import MAX_UNSELECTED_DECISIONS
from infleet.scheduling.placement.spread import SpreadTracker

SPREAD_SCORES = "TopologySpread/scores"
Scored = dict[str, float]


@dataclass(frozen=True, slots=True)
class PickNOptions:
    """`spread_weight`: points of the total per unit of KubeFleet's topology spread score, so a
    ScheduleAnyway violation (-1000) outweighs any affinity (at most 1000 points)."""

    spread_weight: float = 1.0


def _by_score(clusters: list[ClusterCandidate], totals: Scored) -> list[ClusterCandidate]:
    # Highest total first; the name breaks ties so decisions are deterministic (KubeFleet does the same).
    return sorted(clusters, key=lambda c: (-round(totals[c.name], 9), c.name))


def pick_all(evaluation: Evaluation[ClusterCandidate]) -> Selection[ClusterCandidate]:
    totals = dict(zip((c.name for c in evaluation.feasible), evaluation.totals, strict=True))
    return Selection(_by_score(list(evaluation.feasible), totals))


def pick_fixed(
    cycle: PlacementCycle, evaluation: Evaluation[ClusterCandidate]
) -> Selection[ClusterCandidate]:
    names = (cycle.request.policy.cluster_names if cycle.request.policy else None) or []
    feasible = {c.name: c for c in evaluation.feasible}
    selected = [feasible[n] for n in dict.fromkeys(names) if n in feasible]
    missing = [n for n in dict.fromkeys(names) if n not in feasible]
    if not missing:
        return Selection(selected)
    known = {c.name for c in cycle.clusters}
    why = [f"{n} is not a member cluster" if n not in known else f"{n} is not eligible" for n in missing]
    return Selection(
        selected, [], f"PickFixed got {len(selected)} of {len(names)} clusters: {'; '.join(why)}"
    )


def _downscale(
    current: list[ClusterCandidate], n: int, cycle: PlacementCycle, totals: Scored
) -> Selection[ClusterCandidate]:
    # KubeFleet removes Scheduled bindings before Bound ones, and the lowest-scored first within each.
    keep_order = sorted(
        current, key=lambda c: (cycle.request.bindings.get(c.name) != "Bound", -totals[c.name], c.name)
    )
    dropped = [
        (
            c,
            Status(
                Code.UNSCHEDULABLE,
                "PickN",
                f"downscaled: numberOfClusters is {n}, score {totals[c.name]:.2f}",
            ),
        )
        for c in keep_order[n:]
    ]
    return Selection(_by_score(keep_order[:n], totals), dropped)


def pick_n(
    cycle: PlacementCycle, evaluation: Evaluation[ClusterCandidate], options: PickNOptions
) -> Selection[ClusterCandidate]:
    policy = cycle.request.policy
    n = (policy.number_of_clusters if policy else None) or 0
    totals = dict(zip((c.name for c in evaluation.feasible), evaluation.totals, strict=True))
    current = [c for c in evaluation.feasible if cycle.request.bound(c.name)]
    if len(current) >= n:
        selection = _downscale(current, n, cycle, totals)
        full = f"the placement already has its {n} clusters (they stay put), score {{:.2f}}"
        others = [
            (c, Status(Code.UNSCHEDULABLE, "PickN", full.format(totals[c.name])))
            for c in evaluation.feasible
            if c not in current
        ]
        return Selection(selection.selected, [*selection.unselected, *others])
    # Clusters already holding the placement stay: no reshuffling when a better one appears.
    selected = _by_score(current, totals)
    tracker = SpreadTracker((policy.topology_spread_constraints or []) if policy else [], evaluation.feasible)
    spread_scores = cycle.state.memo(SPREAD_SCORES, dict[str, int])
    for cluster in selected:
        tracker.add(cluster)
    kept = {c.name for c in selected}
    pool = [c for c in _by_score(list(evaluation.feasible), totals) if c.name not in kept]
    if not tracker.constrained:
        # No spread to weigh: the best of the pool in score order, without a verdict per cluster.
        taken, pool = pool[: max(0, n - len(selected))], pool[max(0, n - len(selected)) :]
        selected += taken
    while len(selected) < n:
        best, best_total = None, 0.0
        for cluster in pool:
            verdict = tracker.verdict(cluster)
            total = totals[cluster.name] + options.spread_weight * verdict.score
            if not verdict.blocked and (best is None or round(total, 9) > round(best_total, 9)):
                best, best_total = cluster, total
                spread_scores[cluster.name] = verdict.score
        if best is None:
            break
        selected.append(best)
        tracker.add(best)
        pool.remove(best)
    return Selection(
        selected, _left_out(pool, tracker, totals, n), _unfulfilled(n, selected, evaluation, pool)
    )


def _left_out(
    pool: list[ClusterCandidate], tracker: SpreadTracker, totals: Scored, n: int
) -> list[tuple[ClusterCandidate, Status]]:
    out = []
    plain = f"not among the best {n}"
    # The score is quoted where a status can show it; past that, one shared Status: formatting and
    # allocating one per cluster of a 1,000-cluster fleet cost more than picking (the outcome keeps
    # every cluster's score anyway).
    outranked = Status(Code.UNSCHEDULABLE, "PickN", plain)
    for index, cluster in enumerate(pool):
        blocked = tracker.verdict(cluster).blocked if tracker.constrained else ""
        if blocked:
            out.append((cluster, Status(Code.UNSCHEDULABLE, "TopologySpread", blocked)))
        elif index < MAX_UNSELECTED_DECISIONS:
            reason = f"{plain}: score {totals[cluster.name]:.2f}"
            out.append((cluster, Status(Code.UNSCHEDULABLE, "PickN", reason)))
        else:
            out.append((cluster, outranked))
    return out


def _unfulfilled(
    n: int,
    selected: list[ClusterCandidate],
    evaluation: Evaluation[ClusterCandidate],
    pool: list[ClusterCandidate],
) -> str:
    if len(selected) >= n:
        return ""
    counts: dict[str, int] = {}
    for _, status in evaluation.rejected:
        counts[status.plugin] = counts.get(status.plugin, 0) + 1
    why = [f"{plugin} rejected {count}" for plugin, count in sorted(counts.items())]
    if pool:
        why.append(f"topology spread blocked {len(pool)}")
    return f"PickN wanted {n} clusters, found {len(selected)}: " + (", ".join(why) or "no clusters")


class PolicyPicker:
    """The placement profile's picker: PickAll, PickN or PickFixed as the request's policy says."""

    name = "PlacementPolicy"

    def __init__(self, options: PickNOptions) -> None:
        self._options = options

    def select(
        self, cycle: PlacementCycle, evaluation: Evaluation[ClusterCandidate]
    ) -> Selection[ClusterCandidate]:
        if cycle.placement_type == "PickN":
            return pick_n(cycle, evaluation, self._options)
        if cycle.placement_type == "PickFixed":
            return pick_fixed(cycle, evaluation)
        return pick_all(evaluation)
