"""One plugin framework (filter / score / pick) shared by cluster placement and request routing.

Callers build a `Profile` from a `ProfileSpec` through a `Registry`, then call `Profile.schedule`.
"""

from infleet.scheduling.framework import (
    Code,
    CycleState,
    Decision,
    Environment,
    Evaluation,
    FilterPlugin,
    PickPlugin,
    ReservePlugin,
    ScorePlugin,
    Selection,
    SelectPlugin,
    Status,
)
from infleet.scheduling.profile import PluginRef, Profile, ProfileSpec
from infleet.scheduling.registry import PluginArgs, Registry, RegistryError

__all__ = [
    "Code",
    "CycleState",
    "Decision",
    "Environment",
    "Evaluation",
    "FilterPlugin",
    "PickPlugin",
    "PluginArgs",
    "PluginRef",
    "Profile",
    "ProfileSpec",
    "Registry",
    "RegistryError",
    "ReservePlugin",
    "ScorePlugin",
    "SelectPlugin",
    "Selection",
    "Status",
]
