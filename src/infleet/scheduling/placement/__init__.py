"""The placement profile (workload -> cluster): KubeFleet's filters, scores and pickers plus GPU fit and
GPU cost. The hub's scheduler controller calls `schedule(PlacementRequest, [ClusterCandidate])` and
writes the `PlacementDecision` into bindings and the policy snapshot's status.
"""

from infleet.scheduling.placement.cluster import ClusterCandidate
from infleet.scheduling.placement.decision import ClusterOutcome, PlacementDecision
from infleet.scheduling.placement.profile import DEFAULT_PLACEMENT_PROFILE, build_placement_registry
from infleet.scheduling.placement.request import BindingState, Eligibility, GpuDemand, PlacementRequest
from infleet.scheduling.placement.schedule import PlacementScheduler, default_scheduler, schedule

__all__ = [
    "DEFAULT_PLACEMENT_PROFILE",
    "BindingState",
    "ClusterCandidate",
    "ClusterOutcome",
    "Eligibility",
    "GpuDemand",
    "PlacementDecision",
    "PlacementRequest",
    "PlacementScheduler",
    "build_placement_registry",
    "default_scheduler",
    "schedule",
]
