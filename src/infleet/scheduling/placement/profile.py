"""The placement registry and the default placement profile, as data. Weights are points: one unit of a
user's affinity weight is one point (the affinity scorer's 2000 undoes its normalization), staying put
is worth 0.75 and the full cost range 0.5, so any explicit preference outweighs cost and cost decides
only between clusters the user ranks equally. The hub's scheduler builds it once through `schedule`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from pydantic import Field

from infleet.scheduling.framework import Environment
from infleet.scheduling.placement.affinity import (
    AFFINITY_BOUND,
    ClusterAffinityFilter,
    PreferredAffinityScorer,
)
from infleet.scheduling.placement.eligibility import ClusterEligibility
from infleet.scheduling.placement.gpu_fit import GpuFit
from infleet.scheduling.placement.pickers import PickNOptions, PolicyPicker
from infleet.scheduling.placement.scorers import GpuCostScorer, StayScorer
from infleet.scheduling.placement.taints import TaintToleration
from infleet.scheduling.profile import PluginRef, ProfileSpec
from infleet.scheduling.registry import PluginArgs, Registry


class NoArgs(PluginArgs):
    """Plugins that take no arguments still refuse unknown ones."""


class PolicyPickerArgs(PluginArgs):
    spread_weight: float = Field(
        default=1.0, ge=0.0, description="points per unit of KubeFleet's topology spread score"
    )


def _without_args(make: Callable[[], object], args: NoArgs, env: Environment) -> object:
    return make()


def build_placement_registry() -> Registry:
    """Every placement plugin, keyed by the names KubeFleet users know where KubeFleet has them."""
    registry = Registry()
    simple: dict[str, Callable[[], object]] = {
        ClusterEligibility.name: ClusterEligibility,
        TaintToleration.name: TaintToleration,
        GpuFit.name: GpuFit,
        GpuCostScorer.name: GpuCostScorer,
        StayScorer.name: StayScorer,
    }
    for name, make in simple.items():
        registry.register_typed(name, NoArgs, functools.partial(_without_args, make))
    # The affinity filter and scorer share KubeFleet's plugin name; the profile lists them by role.
    registry.register_typed("ClusterAffinity", NoArgs, lambda args, env: ClusterAffinityFilter())
    registry.register_typed("ClusterAffinityPreferred", NoArgs, lambda args, env: PreferredAffinityScorer())

    def picker(args: PolicyPickerArgs, env: Environment) -> PolicyPicker:
        return PolicyPicker(PickNOptions(spread_weight=args.spread_weight))

    registry.register_typed(PolicyPicker.name, PolicyPickerArgs, picker)
    return registry


DEFAULT_PLACEMENT_PROFILE = ProfileSpec(
    name="placement",
    # Cheap, unresolvable checks first; GpuFit (sizing) last so it runs only where it can matter.
    filters=[
        PluginRef(name="ClusterEligibility"),
        PluginRef(name="ClusterAffinity"),
        PluginRef(name="TaintToleration"),
        PluginRef(name="GpuFit"),
    ],
    scorers=[
        PluginRef(name="ClusterAffinityPreferred", weight=2.0 * AFFINITY_BOUND),
        PluginRef(name="StayPut", weight=0.75),
        PluginRef(name="GpuCost", weight=0.5),
    ],
    picker=PluginRef(name=PolicyPicker.name),
)
