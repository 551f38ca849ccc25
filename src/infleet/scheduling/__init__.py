"""One plugin framework (filter / score / pick) shared by cluster placement and request routing.

Callers build a `Profile` from a `ProfileSpec` through a `Registry`, then call `Profile.schedule`.
"""

from infleet.scheduling.framework import (
    Code,
    Decision,
    Environment,
    FilterPlugin,
    PickPlugin,
    ReservePlugin,
    ScorePlugin,
    Status,
)
from infleet.scheduling.profile import PluginRef, Profile, ProfileSpec
from infleet.scheduling.registry import Registry, RegistryError

__all__ = [
    "Code",
    "Decision",
    "Environment",
    "FilterPlugin",
    "PickPlugin",
    "PluginRef",
    "Profile",
    "ProfileSpec",
    "Registry",
    "RegistryError",
    "ReservePlugin",
    "ScorePlugin",
    "Status",
]
