"""What one placement asks of the scheduler: its policy, the GPU demands of the ModelDeployments it
selects, where it is bound today, and how strict eligibility is. Built by the hub's scheduler controller
from the ClusterResourcePlacement, its policy snapshot, its bindings and the selected ModelDeployments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from infleet.api.placement_kubernetes_fleet_io.v1beta1.policy import PlacementPolicy
from infleet.api.sizing import SizingRequest

BindingState = Literal["Scheduled", "Bound", "Unscheduled"]
#: KubeFleet's scheduler drops clusters whose last heartbeat is older than five minutes.
DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class GpuDemand:
    """One selected ModelDeployment: its sizing request and how many replicas each cluster runs."""

    name: str
    sizing: SizingRequest
    replicas: int = 1


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Which clusters may hold placements at all. `exclude_unhealthy` is Infleet's automatic failover:
    KubeFleet keeps placing on an unhealthy cluster; the hub turns this on to move work away."""

    heartbeat_timeout_seconds: float = DEFAULT_HEARTBEAT_TIMEOUT_SECONDS
    exclude_unhealthy: bool = False


@dataclass(frozen=True, slots=True)
class PlacementRequest:
    """One scheduling cycle's input. `policy` None means PickAll, as an omitted spec.policy does;
    `workloads` is empty when nothing GPU-bound is placed (then GpuFit and cost have nothing to say);
    `bindings` maps cluster name to the state of this placement's binding there."""

    name: str
    policy: PlacementPolicy | None = None
    workloads: tuple[GpuDemand, ...] = ()
    bindings: Mapping[str, BindingState] = field(default_factory=dict)
    eligibility: Eligibility = field(default_factory=Eligibility)

    @property
    def placement_type(self) -> str:
        return self.policy.placement_type if self.policy is not None else "PickAll"

    def bound(self, cluster: str) -> bool:
        """Whether the placement holds a live binding (Scheduled or Bound) on `cluster`."""
        return self.bindings.get(cluster) in ("Scheduled", "Bound")
