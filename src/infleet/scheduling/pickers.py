"""Generic pickers, usable by any profile whatever its candidate type: best score with a random
tie-break, power-of-two-choices, uniform random and round-robin. Registered by `register_pickers`.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from infleet.scheduling.framework import Environment
from infleet.scheduling.registry import Registry

C = TypeVar("C")

_DIGITS = 9


class MaxScorePicker:
    """Highest total first; ties broken at random so equal replicas share load."""

    name = "max-score"

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def pick(self, request: object, candidates: Sequence[C], scores: Sequence[float]) -> list[C]:
        rnd = self._rng.random
        # Rounding makes float noise count as a tie, so the random key decides between equals.
        order = sorted(range(len(candidates)), key=lambda i: (-round(scores[i], _DIGITS), rnd()))
        return [candidates[i] for i in order]


class PowerOfTwoPicker:
    """Samples two candidates and keeps the better one first: avoids herding on a stale best score."""

    name = "power-of-two"

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def pick(self, request: object, candidates: Sequence[C], scores: Sequence[float]) -> list[C]:
        n = len(candidates)
        if n == 1:
            return [candidates[0]]
        a, b = self._rng.sample(range(n), 2)
        first = a if scores[a] >= scores[b] else b
        rest = sorted((i for i in range(n) if i != first), key=lambda i: -scores[i])
        return [candidates[first]] + [candidates[i] for i in rest]


class RandomPicker:
    """Uniform random order, optionally weighted by score (LiteLLM's simple-shuffle)."""

    name = "random"

    def __init__(self, rng: random.Random, weighted: bool) -> None:
        self._rng = rng
        self._weighted = weighted

    def pick(self, request: object, candidates: Sequence[C], scores: Sequence[float]) -> list[C]:
        order = list(range(len(candidates)))
        if self._weighted and any(s > 0 for s in scores):
            # Efraimidis-Spirakis keys give a weighted order without replacement in one sort.
            keys = {i: self._rng.random() ** (1.0 / scores[i]) if scores[i] > 0 else -1.0 for i in order}
            order.sort(key=lambda i: -keys[i])
        else:
            self._rng.shuffle(order)
        return [candidates[i] for i in order]


class RoundRobinPicker:
    """Rotates through the feasible candidates; state is a counter, so it is fair only per profile."""

    name = "round-robin"

    def __init__(self) -> None:
        self._counter = itertools.count()

    def pick(self, request: object, candidates: Sequence[C], scores: Sequence[float]) -> list[C]:
        start = next(self._counter) % len(candidates)
        return [*candidates[start:], *candidates[:start]]


def register_pickers(registry: Registry) -> None:
    def max_score(args: Mapping[str, Any], env: Environment) -> MaxScorePicker:
        return MaxScorePicker(env.rng)

    def power_of_two(args: Mapping[str, Any], env: Environment) -> PowerOfTwoPicker:
        return PowerOfTwoPicker(env.rng)

    def random_picker(args: Mapping[str, Any], env: Environment) -> RandomPicker:
        return RandomPicker(env.rng, bool(args.get("weighted", False)))

    def round_robin(args: Mapping[str, Any], env: Environment) -> RoundRobinPicker:
        return RoundRobinPicker()

    registry.register(MaxScorePicker.name, max_score)
    registry.register(PowerOfTwoPicker.name, power_of_two)
    registry.register(RandomPicker.name, random_picker)
    registry.register(RoundRobinPicker.name, round_robin)
