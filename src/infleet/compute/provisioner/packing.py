"""First-fit-decreasing packing of a batch of pending pods (Karpenter's scheduling simulation, for GPU
pods): largest pods first, each onto an in-flight NodeClaim with room, else onto a new NodeClaim opened
in this batch (when that costs no more than a node of its own), else onto a new NodeClaim from the first
NodePool, in weight order, whose taints, instance types and limits allow it. A new claim keeps every
instance type that still fits its pods, cheapest first. Pure: the provisioner and the benchmark call it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infleet.compute.provisioner.candidates import Candidate
from infleet.compute.provisioner.pod_shape import PodShape, Resources, tolerates
from infleet.compute.provisioner.pool_limits import PoolLimits, node_usage


@dataclass
class PoolOption:
    """A NodePool as packing sees it: weight, template taints, candidates (cheapest first), limits."""

    name: str
    weight: int
    candidates: list[Candidate]
    taints: list[dict[str, Any]]
    limits: PoolLimits


@dataclass
class InFlight:
    """A NodeClaim launched or launching in an earlier batch, with the room it still has."""

    name: str
    labels: Mapping[str, str]
    taints: list[dict[str, Any]]
    free: Resources
    pods: list[PodShape] = field(default_factory=list)

    def take(self, pod: PodShape) -> bool:
        if not pod.requests.fits(self.free) or not pod.selects(self.labels):
            return False
        if not all(tolerates(pod, taint) for taint in self.taints):
            return False
        self.free = Resources(
            self.free.gpus - pod.requests.gpus,
            self.free.cpu_m - pod.requests.cpu_m,
            self.free.memory_mib - pod.requests.memory_mib,
            self.free.pods - 1,
        )
        self.pods.append(pod)
        return True


@dataclass
class NewClaim:
    """A node to ask for: its pool, the instance types that fit all its pods (cheapest first)."""

    pool: PoolOption
    candidates: list[Candidate]
    pods: list[PodShape]
    requests: Resources
    region: str | None = None

    @property
    def price(self) -> float:
        return self.candidates[0].price

    def full(self) -> bool:
        return self.requests.gpus >= max(c.capacity.gpus for c in self.candidates)


@dataclass
class Packing:
    in_flight: list[InFlight]
    new: list[NewClaim] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # pod key -> why no node can be had


def _delta(old: Candidate | None, new: Candidate) -> dict[str, int]:
    after = node_usage(new.capacity)
    if old is None:
        return after
    before = node_usage(old.capacity)
    return {key: after[key] - before.get(key, 0) for key in after}


class _Packer:
    def __init__(self, pools: Sequence[PoolOption], in_flight: list[InFlight]) -> None:
        self.pools = sorted(pools, key=lambda p: (-p.weight, p.name))
        self.result = Packing(in_flight)
        self.open: dict[tuple[Any, ...], list[NewClaim]] = {}
        self.group_regions: dict[str, str] = {}
        self._fitting: dict[tuple[str, tuple[Any, ...], Resources], list[Candidate]] = {}

    def fitting(self, pool: PoolOption, pod: PodShape) -> list[Candidate]:
        """The pool's candidates that select-match and fit ``pod`` alone (cached per pod shape)."""
        key = (pool.name, pod.signature, pod.requests)
        if key not in self._fitting:
            region = self.group_regions.get(pod.group or "")
            found = []
            for candidate in pool.candidates:
                narrowed = candidate.in_region(region) if region else candidate
                if narrowed and pod.requests.fits(narrowed.capacity) and pod.selects(narrowed.labels):
                    found.append(narrowed)
            self._fitting[key] = found
        return self._fitting[key]

    def fresh(self, pod: PodShape) -> tuple[PoolOption, list[Candidate]] | str:
        """The first pool (by weight) that can open a node for ``pod``, or why none can."""
        reasons = []
        for pool in self.pools:
            if not all(tolerates(pod, taint) for taint in pool.taints):
                reasons.append(
                    f"incompatible with nodepool {pool.name}: the pod does not tolerate its taints"
                )
                continue
            fitting = self.fitting(pool, pod)
            if not fitting:
                reasons.append(f"incompatible with nodepool {pool.name}: no instance type fits the pod")
                continue
            allowed = [c for c in fitting if pool.limits.allows(_delta(None, c))]
            if not allowed:
                reasons.append(pool.limits.message(_delta(None, fitting[0])))
                continue
            return pool, allowed
        return "; ".join(reasons) or "no NodePool"

    def grow(self, claim: NewClaim, pod: PodShape, ceiling: float | None) -> bool:
        """Add ``pod`` to ``claim`` when some type still fits and the claim costs at most ``ceiling`` more."""
        requests = claim.requests + pod.requests
        current = claim.candidates[0]
        for index, candidate in enumerate(claim.candidates):
            if not requests.fits(candidate.capacity):
                continue
            if ceiling is not None and candidate.price - current.price > ceiling + 1e-9:
                return False
            delta = _delta(current, candidate)
            if not claim.pool.limits.allows(delta):
                continue
            claim.pool.limits.add(delta)
            claim.candidates = [c for c in claim.candidates[index:] if requests.fits(c.capacity)]
            claim.pods.append(pod)
            claim.requests = requests
            return True
        return False

    def place(self, pod: PodShape) -> None:
        if any(claim.take(pod) for claim in self.result.in_flight):
            return
        opened = self.fresh(pod)
        ceiling = opened[1][0].price if not isinstance(opened, str) else None
        bins = self.open.setdefault(pod.signature, [])
        for claim in bins:
            if self.grow(claim, pod, ceiling):
                if claim.full():
                    bins.remove(claim)
                return
        if isinstance(opened, str):
            self.result.failed[pod.key] = opened
            return
        pool, candidates = opened
        region = None
        if pod.group:
            region = self.group_regions.setdefault(pod.group, candidates[0].cheapest_region())
            candidates = [c for c in (x.in_region(region) for x in candidates) if c is not None]
            if not candidates:
                self.result.failed[pod.key] = f"no instance type left in region {region} for its group"
                return
        pool.limits.add(_delta(None, candidates[0]))
        claim = NewClaim(pool, candidates, [pod], pod.requests, region)
        self.result.new.append(claim)
        if not claim.full():
            bins.append(claim)


def pack(
    pods: Sequence[PodShape], pools: Sequence[PoolOption], in_flight: list[InFlight] | None = None
) -> Packing:
    """Pack ``pods`` (largest first) onto in-flight claims, then new claims; ``pools``' limits are updated."""
    packer = _Packer(pools, list(in_flight or []))
    ordered = sorted(pods, key=lambda p: (-p.requests.gpus, -p.requests.cpu_m, -p.requests.memory_mib, p.key))
    for pod in ordered:
        packer.place(pod)
    return packer.result
