"""The ``CloudProvider`` port (Karpenter's interface, for GPU clouds): which instance types a node class
can get where and at what price, and launching, finding and deleting instances. The provisioner, the
NodeClaim lifecycle and disruption call it; ``cloudprovider.simulated`` implements it for ``infleet up``,
and a real cloud plugs in behind the same protocol.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Literal, Protocol

from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FlexNodeClassSpec

CapacityType = Literal["on-demand", "spot"]


@dataclass(frozen=True)
class Offering:
    """Where and how an instance type can be had: cloud, region, zone, capacity type, price, availability."""

    cloud: str
    region: str
    zone: str
    capacity_type: CapacityType
    price_per_hour: float
    available: bool = True


@dataclass(frozen=True)
class InstanceType:
    """A machine shape: its GPUs (catalog SKU and count), CPU and memory, and every offering of it."""

    name: str
    gpu_sku: str
    gpus: int
    cpu: int
    memory_gib: int
    offerings: tuple[Offering, ...] = ()


@dataclass(frozen=True)
class LaunchRequest:
    """One NodeClaim as the provider sees it: the instance types it may be (cheapest first) and where."""

    nodeclaim: str
    node_class: FlexNodeClassSpec
    instance_types: tuple[str, ...]
    capacity_types: tuple[CapacityType, ...] = ("on-demand",)
    regions: tuple[str, ...] = ()  # empty: any the node class allows
    zones: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class Instance:
    """A launched machine: its provider ID and what it turned out to be."""

    provider_id: str
    instance_type: str
    offering: Offering
    node_name: str


@dataclass(frozen=True)
class Interruption:
    """A notice that the cloud takes an instance back (a spot reclaim) at ``deadline`` (wall-clock s)."""

    provider_id: str
    deadline: float
    reason: str = "SpotInterruption"


class CloudError(Exception):
    """A launch the cloud refused; ``insufficient_capacity`` (stockout, quota) means try another offering."""

    def __init__(self, message: str, insufficient_capacity: bool = False) -> None:
        super().__init__(message)
        self.insufficient_capacity = insufficient_capacity


class NotFoundError(CloudError):
    """No such instance (it was deleted, or the cloud lost it)."""


class CloudProvider(Protocol):
    name: str

    def instance_types(self, node_class: FlexNodeClassSpec) -> list[InstanceType]:
        """Every instance type the class may draw on, with the offerings its clouds and regions allow."""
        ...

    async def create(self, request: LaunchRequest) -> Instance:
        """Launch the cheapest available offering of the request; CloudError when none can be had."""
        ...

    async def delete(self, provider_id: str) -> None:
        """Terminate an instance; NotFoundError when it is already gone."""
        ...

    async def get(self, provider_id: str) -> Instance: ...

    async def list(self) -> list[Instance]: ...

    async def interruptions(self) -> builtins.list[Interruption]:
        """Notices of instances the cloud is about to take back (spot reclaims), as of now."""
        ...
