"""One placement scheduling cycle as the request type of the placement plugins: the request, the
catalog, the clusters by name and the per-cycle state plugins share (GPU fit results, sorter ranges).
``schedule`` builds one per call; nothing in it outlives the cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from infleet.api.catalog import Catalog
from infleet.scheduling.framework import CycleState
from infleet.scheduling.placement.cluster import ClusterCandidate
from infleet.scheduling.placement.gpu_capacity import CapacityCache
from infleet.scheduling.placement.request import PlacementRequest

if TYPE_CHECKING:
    from infleet.scheduling.placement.gpu_fit import FitShapes, GpuFitResult


@dataclass(slots=True)
class PlacementCycle:
    request: PlacementRequest
    catalog: Catalog
    clusters: Sequence[ClusterCandidate]
    state: CycleState = field(default_factory=CycleState)
    #: Parsed capacity shared across cycles (the scheduler's); None: this cycle parses its own.
    capacities: CapacityCache | None = None
    #: GpuFit's result per cluster name, filled by the filter and read by the scorer and the decision
    #: (a plain dict: the generic state memo cost a third of a 1,000-cluster cycle at three reads each).
    fits: dict[str, GpuFitResult] = field(default_factory=dict)
    #: The request's demands as anonymous shapes with their cache token, built on first use.
    fit_shapes: FitShapes | None = None

    def capacity_cache(self) -> CapacityCache:
        if self.capacities is None:
            self.capacities = CapacityCache(self.catalog)
        return self.capacities

    @property
    def placement_type(self) -> str:
        return self.request.placement_type

    @property
    def pick_fixed(self) -> bool:
        return self.request.placement_type == "PickFixed"
