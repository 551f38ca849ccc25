"""Profiles report what their plugins declare, whatever the plugins are called."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from infleet.scheduling import Code, Environment, PluginRef, Profile, ProfileSpec, Status
from infleet.scheduling.routing import (
    BUILTIN_PROFILES,
    RoutingCapabilities,
    RoutingRequest,
    SaturationPolicy,
    build_routing_registry,
)


def capabilities(spec: ProfileSpec) -> RoutingCapabilities:
    registry = build_routing_registry("us", SaturationPolicy())

    def gpu_memory(args: Mapping[str, Any], env: Environment) -> FullOfKVFilter:
        return FullOfKVFilter()

    registry.register(FullOfKVFilter.name, gpu_memory)
    profile: Profile[RoutingRequest, Any] = Profile.build(spec, registry, Environment(rng=random.Random(0)))
    return RoutingCapabilities.of(profile)


class FullOfKVFilter:
    name = "kv-headroom"
    detects_saturation = True
    REJECT = Status(Code.UNSCHEDULABLE, name, "no KV-cache headroom")

    def filter(self, request: RoutingRequest, candidate: Any) -> Status:
        return self.REJECT


def test_builtin_profiles_declare_prompt_hashes_only_with_prefix_affinity() -> None:
    hashed = {name for name, spec in BUILTIN_PROFILES.items() if capabilities(spec).needs_prompt_hashes}
    assert hashed == {"default"}
    for spec in BUILTIN_PROFILES.values():
        assert capabilities(spec).saturation_filters == {"below-concurrency-cap"}


def test_a_zero_weight_prefix_scorer_still_learns_so_prompts_are_hashed() -> None:
    spec = ProfileSpec(scorers=[PluginRef(name="prefix-cache", weight=0)])
    assert capabilities(spec).needs_prompt_hashes


def test_any_filter_that_declares_saturation_counts() -> None:
    caps = capabilities(ProfileSpec(filters=[PluginRef(name="healthy"), PluginRef(name="kv-headroom")]))
    assert caps.saturation_filters == {"kv-headroom"}
    assert caps.saturated([(object(), FullOfKVFilter.REJECT)])
    assert not caps.saturated([(object(), Status(Code.UNSCHEDULABLE, "healthy", "failing health checks"))])
    assert not caps.saturated([])
