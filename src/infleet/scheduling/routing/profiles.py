"""The routing plugin registry and the built-in routing profiles. Strategies are only profiles:
round-robin is a picker with no scorers, least-outstanding one scorer, the default mixes prefix affinity,
expected TTFT (learned prefill speed x requests ahead), the gateway's in-flight count, engine load and
locality. Called by the gateway at config load.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from infleet.scheduling.framework import Environment
from infleet.scheduling.pickers import register_pickers
from infleet.scheduling.profile import PluginRef, ProfileSpec
from infleet.scheduling.registry import PluginArgs, Registry
from infleet.scheduling.routing.endpoint import SaturationPolicy
from infleet.scheduling.routing.filters import (
    ConcurrencyCapFilter,
    CooldownFilter,
    HealthyFilter,
    RegionFilter,
    ServesModelFilter,
)
from infleet.scheduling.routing.prefix import PrefixIndex
from infleet.scheduling.routing.scorers import (
    CostScorer,
    ExpectedTTFTScorer,
    KVCacheScorer,
    LocalityScorer,
    OutstandingScorer,
    PrefixCacheScorer,
    QueueScorer,
)


class RegionArgs(PluginArgs):
    """Arguments of `region-allow`: a fixed allow-list, and whether to keep only the request's region."""

    regions: list[str] | None = None
    request_region_only: bool = False


class ExpectedTTFTArgs(PluginArgs):
    """Arguments of `expected-ttft`: `slack`, seconds added to every estimate, below which differences
    fade; `forget_after`, seconds without a new first token after which a replica's estimate counts as
    unknown (the mean of the others) again; `displacement_horizon`, seconds, off (0) by default: a
    prompt placed cold on a replica whose cache is full, and whose least recently routed prefix was
    sent there within this horizon, is charged the prefill of what it evicts (see ExpectedTTFTScorer)."""

    slack: float = Field(default=0.05, ge=0.0)
    forget_after: float = Field(default=10.0, gt=0.0)
    displacement_horizon: float = Field(default=0.0, ge=0.0)


def build_routing_registry(
    home_region: str = "", saturation: SaturationPolicy | None = None, index: PrefixIndex | None = None
) -> Registry:
    """Every routing plugin plus the generic pickers. `home_region` is the gateway's own region; `index`
    the prefix index to share, kept by a caller that rebuilds the registry so affinity survives it."""
    sat = saturation or SaturationPolicy()
    registry = Registry()
    register_pickers(registry)

    def simple(plugin_type: type) -> Any:
        return lambda args, env: plugin_type()

    def region(args: RegionArgs, env: Environment) -> RegionFilter:
        regions = frozenset(args.regions) if args.regions is not None else None
        return RegionFilter(regions, args.request_region_only, home_region)

    def queue(args: Mapping[str, Any], env: Environment) -> QueueScorer:
        return QueueScorer(float(args.get("stale_after", sat.stale_after)))

    def kv(args: Mapping[str, Any], env: Environment) -> KVCacheScorer:
        return KVCacheScorer(float(args.get("stale_after", sat.stale_after)))

    # One prefix index per registry, shared by prefix-cache (which records where prompts went) and
    # expected-ttft (which discounts what a replica holds): both describe the same engines' caches.
    index = index if index is not None else PrefixIndex()

    def prefix(args: Mapping[str, Any], env: Environment) -> PrefixCacheScorer:
        index.capacity = max(index.capacity, int(args.get("capacity", index.capacity)))
        return PrefixCacheScorer(index, sat)

    def locality(args: Mapping[str, Any], env: Environment) -> LocalityScorer:
        return LocalityScorer(str(args.get("region", home_region)))

    registry.register(HealthyFilter.name, simple(HealthyFilter))
    registry.register(ServesModelFilter.name, simple(ServesModelFilter))
    registry.register_typed(RegionFilter.name, RegionArgs, region)
    registry.register(CooldownFilter.name, simple(CooldownFilter))
    registry.register(ConcurrencyCapFilter.name, simple(ConcurrencyCapFilter))
    registry.register(OutstandingScorer.name, simple(OutstandingScorer))
    registry.register_typed(
        ExpectedTTFTScorer.name,
        ExpectedTTFTArgs,
        lambda args, env: ExpectedTTFTScorer(args.slack, index, args.forget_after, args.displacement_horizon),
    )
    registry.register(QueueScorer.name, queue)
    registry.register(KVCacheScorer.name, kv)
    registry.register(PrefixCacheScorer.name, prefix)
    registry.register(LocalityScorer.name, locality)
    registry.register(CostScorer.name, simple(CostScorer))
    return registry


_FILTERS = [
    PluginRef(name=n)
    for n in ("healthy", "serves-model", "region-allow", "not-cooling-down", "below-concurrency-cap")
]


def _profile(name: str, scorers: dict[str, float], picker: str) -> ProfileSpec:
    return ProfileSpec(
        name=name,
        filters=list(_FILTERS),
        scorers=[PluginRef(name=n, weight=w) for n, w in scorers.items()],
        picker=PluginRef(name=picker),
    )


BUILTIN_PROFILES: dict[str, ProfileSpec] = {
    p.name: p
    for p in (
        _profile(
            "default",
            {
                "prefix-cache": 2,
                "expected-ttft": 4,
                "queue": 1,
                "kv-cache": 1,
                "locality": 1,
            },
            "max-score",
        ),
        _profile("round-robin", {}, "round-robin"),
        _profile("least-outstanding", {"outstanding": 1}, "max-score"),
        _profile("random", {}, "random"),
        _profile("power-of-two", {"outstanding": 1, "queue": 1}, "power-of-two"),
        _profile("cost", {"cost": 3, "outstanding": 1, "locality": 1}, "max-score"),
        _profile("load", {"outstanding": 2, "queue": 1, "kv-cache": 1, "locality": 1}, "max-score"),
    )
}
