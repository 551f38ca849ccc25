"""GpuFit (Infleet's addition to KubeFleet): every GPU demand of the placement must fit the cluster's
free GPUs. Each demand is sized with the shared sizing (``infleet.api.sizing.candidates``) over the
cluster's offerings; the best plan whose replicas fit the free capacity is taken, and demands consume
capacity in turn. The result (plans and $/hour) is kept in the cycle state for the cost scorer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable
from dataclasses import dataclass

from infleet.api.sizing import Plan, SizingError, candidates, size
from infleet.scheduling.framework import SUCCESS, Code, Status
from infleet.scheduling.placement.cluster import ClusterCandidate
from infleet.scheduling.placement.cycle import PlacementCycle
from infleet.scheduling.placement.gpu_capacity import SkuCapacity, offerings
from infleet.scheduling.placement.request import GpuDemand


@dataclass(frozen=True, slots=True)
class PlacedDemand:
    demand: GpuDemand
    plan: Plan

    @property
    def cost_per_hour(self) -> float:
        return self.plan.cost_per_hour * self.demand.replicas

    def summary(self) -> str:
        nodes = f" on {self.plan.nodes} nodes" if self.plan.nodes > 1 else ""
        where = "" if self.plan.offering.source == "cluster" else " provisioned"
        return f"{self.demand.replicas} x {self.plan.gpus} x {self.plan.offering.gpu.name}{nodes}{where}"


class GpuFitResult:
    """`reason` is empty when every demand fits; `placed` holds the chosen plan per demand.

    One result is computed per member report and demand *shape* and shared by every placement of that
    shape; each placement's own view only renames it, and only when read (`reason`, `placed`): a
    1,000-cluster cycle reads the names of about twenty clusters, the cost and the verdict of all."""

    __slots__ = ("_demands", "_placed", "_reason", "cost_per_hour")

    def __init__(
        self,
        placed: tuple[PlacedDemand, ...] = (),
        reason: str = "",
        demands: tuple[GpuDemand, ...] | None = None,
        cost_per_hour: float | None = None,
    ) -> None:
        self._placed = placed
        self._reason = reason
        #: The placement's demands, whose names replace the placeholders (None: names are final).
        self._demands = demands
        self.cost_per_hour: float = (
            cost_per_hour if cost_per_hour is not None else round(sum(p.cost_per_hour for p in placed), 4)
        )

    @property
    def fits(self) -> bool:
        return not self._reason

    @property
    def reason(self) -> str:
        reason = self._reason
        for index, demand in enumerate(self._demands or ()):
            reason = reason.replace(_placeholder(index), demand.name)
        return reason

    @property
    def placed(self) -> tuple[PlacedDemand, ...]:
        if self._demands is None:
            return self._placed
        return tuple(PlacedDemand(self._demands[i], p.plan) for i, p in enumerate(self._placed))

    def summary(self) -> str:
        return ", ".join(p.summary() for p in self.placed)

    def named(self, demands: tuple[GpuDemand, ...]) -> GpuFitResult:
        """This result, told with `demands`' names in place of the shapes' placeholders."""
        return GpuFitResult(self._placed, self._reason, demands, self.cost_per_hour)


def _shortfall(demand: GpuDemand, best: Plan, capacity: dict[str, SkuCapacity]) -> str:
    replicas, gpus = demand.replicas, best.gpus
    nodes = f" on {best.nodes} nodes each" if best.nodes > 1 else ""
    needs = f"{demand.name} needs {replicas} replicas x {gpus} x {best.offering.gpu.name}{nodes} "
    have = capacity[best.offering.gpu.name].describe()
    return f"{needs}({replicas * gpus} GPUs); {have}"


def _fit_one(cycle: PlacementCycle, demand: GpuDemand, capacity: dict[str, SkuCapacity]) -> Plan | str:
    request = dataclasses.replace(demand.sizing, replicas=demand.replicas)
    offered = offerings(cycle.catalog, capacity, cycle.capacity_cache().provisionable)
    plans = candidates(request, offered)
    for plan in plans:
        sku = capacity[plan.offering.gpu.name]
        if sku.holds(plan, demand.replicas):
            sku.consume(plan, demand.replicas)
            return plan
    if not offered:
        return f"{demand.name} needs GPUs; the cluster reports no GPUs of a catalog SKU"
    if not plans:
        try:  # size() raises with the explanation the models controller would give
            size(request, offered)
        except SizingError as exc:
            return f"{demand.name}: {exc}"
    return _shortfall(demand, plans[0], capacity)


def gpu_fit(cycle: PlacementCycle, cluster: ClusterCandidate) -> GpuFitResult:
    """Fits every demand of the cycle on `cluster`: once per distinct report and set of demand shapes
    while the cycle's capacity cache lives (the result depends on nothing else), else once per cycle.
    Shapes, not names: a thousand placements of the same model share one fit per member."""
    known = cycle.fits.get(cluster.name)
    if known is not None:
        return known
    demands = cycle.request.workloads
    if not demands:
        return _NOTHING_TO_FIT
    shapes = _shapes(cycle)

    def compute() -> GpuFitResult:
        capacity = cycle.capacity_cache().read(cluster)  # a fresh copy: demands consume it
        placed: list[PlacedDemand] = []
        for demand in shapes.demands:
            found = _fit_one(cycle, demand, capacity)
            if isinstance(found, str):
                after = f" after placing {', '.join(p.demand.name for p in placed)}" if placed else ""
                return GpuFitResult(tuple(placed), found + after)
            placed.append(PlacedDemand(demand, found))
        return GpuFitResult(tuple(placed))

    result = cycle.capacity_cache().derived(cluster, shapes.token, compute).named(demands)
    cycle.fits[cluster.name] = result
    return result


_NOTHING_TO_FIT = GpuFitResult()


@dataclass(frozen=True, slots=True)
class FitShapes:
    """The cycle's demands with placeholder names, and the capacity cache's small token for them:
    hashing the demands' nested sizing requests once per cluster was most of a cached lookup."""

    demands: tuple[GpuDemand, ...]
    token: Hashable


def _shapes(cycle: PlacementCycle) -> FitShapes:
    if cycle.fit_shapes is None:
        demands = tuple(
            GpuDemand(_placeholder(i), d.sizing, d.replicas) for i, d in enumerate(cycle.request.workloads)
        )
        cycle.fit_shapes = FitShapes(demands, cycle.capacity_cache().token(("GpuFit", demands)))
    return cycle.fit_shapes


def _placeholder(index: int) -> str:
    return f"\x00demand{index}\x00"


class GpuFit:
    """A shortfall is UNSCHEDULABLE, not unresolvable: GPUs free up and nodes get provisioned."""

    name = "GpuFit"

    def filter(self, cycle: PlacementCycle, cluster: ClusterCandidate) -> Status:
        if cycle.pick_fixed or not cycle.request.workloads:
            return SUCCESS  # PickFixed places where the user says, as KubeFleet does
        if cycle.request.bound(cluster.name):
            # Its replicas there already use the GPUs the member reports as taken: counting them again
            # would evict a placement that fits exactly. A placed cluster stays until failover says not.
            return SUCCESS
        result = gpu_fit(cycle, cluster)
        return SUCCESS if result.fits else Status(Code.UNSCHEDULABLE, self.name, result.reason)
