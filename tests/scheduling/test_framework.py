"""The plugin framework on a toy candidate type (clusters), as placement will use it."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from infleet.scheduling import (
    Code,
    Environment,
    PluginRef,
    Profile,
    ProfileSpec,
    Registry,
    RegistryError,
    Status,
)
from infleet.scheduling.framework import SUCCESS
from infleet.scheduling.pickers import register_pickers


@dataclass(frozen=True)
class Cluster:
    name: str
    free_gpus: int
    price: float


class FitsFilter:
    name = "fits"

    def filter(self, request: int, candidate: Cluster) -> Status:
        if candidate.free_gpus >= request:
            return SUCCESS
        return Status(Code.UNSCHEDULABLE, self.name, "not enough free GPUs")


class BrokenFilter:
    name = "broken"

    def filter(self, request: int, candidate: Cluster) -> Status:
        raise RuntimeError("boom")


class CheapScorer:
    name = "cheap"

    def score(self, request: int, candidates: Sequence[Cluster]) -> list[float]:
        top = max(c.price for c in candidates)
        return [1 - c.price / top for c in candidates]


class WildScorer:
    """Returns values outside [0, 1]; the framework must clamp them."""

    name = "wild"

    def score(self, request: int, candidates: Sequence[Cluster]) -> list[float]:
        return [100.0 if c.name == "b" else -5.0 for c in candidates]


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def score(self, request: int, candidates: Sequence[Cluster]) -> list[float]:
        return [0.0] * len(candidates)

    def reserve(self, request: int, candidate: Cluster) -> None:
        self.seen.append(candidate.name)


def registry() -> Registry:
    reg = Registry()
    register_pickers(reg)
    recorder = Recorder()
    plugins: Mapping[str, Any] = {
        "fits": FitsFilter(),
        "broken": BrokenFilter(),
        "cheap": CheapScorer(),
        "wild": WildScorer(),
        "recorder": recorder,
    }
    for name, plugin in plugins.items():
        reg.register(name, lambda args, env, p=plugin: p)
    return reg


CLUSTERS = [Cluster("a", 8, 3.0), Cluster("b", 2, 2.0), Cluster("c", 8, 1.0)]


def build(spec: ProfileSpec) -> Profile[int, Cluster]:
    return Profile.build(spec, registry(), Environment(rng=random.Random(7)))


def test_filters_then_weighted_scores_then_pick() -> None:
    profile = build(ProfileSpec(filters=[PluginRef(name="fits")], scorers=[PluginRef(name="cheap")]))
    decision = profile.schedule(4, CLUSTERS)
    assert [c.name for c in decision.ranked] == ["c", "a"]
    assert decision.rejected == [(CLUSTERS[1], Status(Code.UNSCHEDULABLE, "fits", "not enough free GPUs"))]
    assert decision.reasons() == {"fits: not enough free GPUs": 1}


def test_nothing_feasible_gives_an_empty_ranking() -> None:
    decision = build(ProfileSpec(filters=[PluginRef(name="fits")])).schedule(99, CLUSTERS)
    assert not decision.feasible
    assert len(decision.rejected) == 3


def test_a_failing_plugin_rejects_with_an_error_status() -> None:
    decision = build(ProfileSpec(filters=[PluginRef(name="broken")])).schedule(1, CLUSTERS)
    assert not decision.feasible
    assert all(s.code is Code.ERROR and s.plugin == "broken" for _, s in decision.rejected)


def test_scores_are_clamped_so_weights_mean_what_they_say() -> None:
    spec = ProfileSpec(scorers=[PluginRef(name="wild", weight=1), PluginRef(name="cheap", weight=2)])
    decision = build(spec).schedule(1, CLUSTERS)
    # wild gives b 1 (clamped from 100), cheap gives c 2*(1-1/3)=1.33 > b 1 + 2*(1/3)=1.67? b wins.
    assert decision.ranked[0].name == "b"
    spec = ProfileSpec(scorers=[PluginRef(name="wild", weight=1), PluginRef(name="cheap", weight=5)])
    assert build(spec).schedule(1, CLUSTERS).ranked[0].name == "c"


def test_zero_weight_scorers_are_skipped_and_reservers_learn() -> None:
    reg = registry()
    spec = ProfileSpec(scorers=[PluginRef(name="recorder", weight=1)])
    profile: Profile[int, Cluster] = Profile.build(spec, reg, Environment())
    profile.reserve(1, CLUSTERS[0])
    assert profile.reservers[0].seen == ["a"]  # type: ignore[attr-defined]
    zero = Profile.build(ProfileSpec(scorers=[PluginRef(name="cheap", weight=0)]), reg, Environment())
    assert zero.scorers == []


def test_unknown_plugins_and_wrong_roles_are_named() -> None:
    with pytest.raises(RegistryError, match=r"profile 'p' scorers: unknown plugin 'nope'"):
        build(ProfileSpec(name="p", scorers=[PluginRef(name="nope")]))
    with pytest.raises(RegistryError, match="cannot be used as a filter"):
        build(ProfileSpec(filters=[PluginRef(name="cheap")]))
    with pytest.raises(RegistryError, match="already registered"):
        registry().register("fits", lambda args, env: None)
