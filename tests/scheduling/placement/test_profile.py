"""The placement profile as data: typed plugin arguments validated at build, and the framework
extensions it relies on leaving routing's contract alone."""

from __future__ import annotations

import pytest

from infleet.scheduling import Environment, PluginRef, Profile, ProfileSpec, RegistryError
from infleet.scheduling.placement import (
    DEFAULT_PLACEMENT_PROFILE,
    PlacementScheduler,
    build_placement_registry,
)


def test_default_profile_builds_with_every_plugin_registered() -> None:
    profile: Profile[object, object] = Profile.build(
        DEFAULT_PLACEMENT_PROFILE, build_placement_registry(), Environment()
    )
    assert [f.name for f in profile.filters] == [
        "ClusterEligibility",
        "ClusterAffinity",
        "TaintToleration",
        "GpuFit",
    ]


def test_typed_arguments_are_validated_with_field_names() -> None:
    spec = DEFAULT_PLACEMENT_PROFILE.model_copy(
        update={"picker": PluginRef(name="PlacementPolicy", args={"spread_weight": -1})}
    )
    with pytest.raises(
        RegistryError, match=r"picker: plugin 'PlacementPolicy' rejected .*spread_weight: Input should be"
    ):
        PlacementScheduler(spec)


def test_unknown_arguments_are_refused() -> None:
    spec = ProfileSpec(name="p", filters=[PluginRef(name="GpuFit", args={"typo": 1})])
    with pytest.raises(RegistryError, match="typo: Extra inputs are not permitted"):
        PlacementScheduler(spec)
