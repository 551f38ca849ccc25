"""Placement scorers besides affinity: GPU cost (the cheapest $/hour of the demands' best plans on each
cluster, which is what "the cheapest GPU-hour that fits" needs) and staying put (a cluster that already
holds this placement's binding). Each returns [0, 1]; the profile's weights set their worth in points.
"""

from __future__ import annotations

from collections.abc import Sequence

from infleet.scheduling.placement.cluster import ClusterCandidate
from infleet.scheduling.placement.cycle import PlacementCycle
from infleet.scheduling.placement.gpu_fit import gpu_fit


class GpuCostScorer:
    """Min-max over the scored clusters, cheapest 1, dearest 0; all equal (or nothing GPU-bound) 1.
    KubeFleet has no cost notion; its nearest is a propertySorter on a cost property, which the user
    must write and which ignores what the workload would actually use."""

    name = "GpuCost"

    def score(self, cycle: PlacementCycle, clusters: Sequence[ClusterCandidate]) -> list[float]:
        if not cycle.request.workloads:
            return [1.0] * len(clusters)
        costs: list[float | None] = []
        for cluster in clusters:
            result = gpu_fit(cycle, cluster)
            costs.append(result.cost_per_hour if result.fits else None)
        known = [c for c in costs if c is not None]
        if not known:
            return [0.0] * len(clusters)
        low, span = min(known), max(known) - min(known)
        if span <= 0:
            return [1.0 if c is not None else 0.0 for c in costs]
        return [0.0 if c is None else (span - (c - low)) / span for c in costs]


class StayScorer:
    """1 for a cluster holding a Scheduled or Bound binding of this placement, 0.5 for an Unscheduled one
    (its resources may still be there), else 0. KubeFleet's SamePlacementAffinity scores +1 only for an
    obsolete binding and compares it last; here it is a weighted part like the others."""

    name = "StayPut"

    def score(self, cycle: PlacementCycle, clusters: Sequence[ClusterCandidate]) -> list[float]:
        bindings = cycle.request.bindings
        out = []
        for cluster in clusters:
            state = bindings.get(cluster.name)
            out.append(0.0 if state is None else 0.5 if state == "Unscheduled" else 1.0)
        return out
