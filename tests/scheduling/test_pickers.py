"""Pickers: tie-breaks, power-of-two, weighted random and round-robin, with injected randomness."""

from __future__ import annotations

import random
from collections import Counter

from infleet.scheduling.pickers import MaxScorePicker, PowerOfTwoPicker, RandomPicker, RoundRobinPicker


def test_max_score_breaks_ties_at_random() -> None:
    picker = MaxScorePicker(random.Random(1))
    firsts = Counter(picker.pick(None, ["a", "b", "c"], [1.0, 1.0, 0.2])[0] for _ in range(400))
    assert set(firsts) == {"a", "b"}
    assert min(firsts.values()) > 120
    assert picker.pick(None, ["a", "b", "c"], [0.1, 0.9, 0.5]) == ["b", "c", "a"]


def test_power_of_two_never_picks_the_worst_of_three() -> None:
    picker = PowerOfTwoPicker(random.Random(2))
    firsts = Counter(picker.pick(None, ["a", "b", "c"], [0.0, 0.5, 1.0])[0] for _ in range(300))
    assert "a" not in firsts
    assert firsts["c"] > firsts["b"]
    assert sorted(picker.pick(None, ["a", "b", "c"], [0.0, 0.5, 1.0])) == ["a", "b", "c"]


def test_weighted_random_follows_the_weights() -> None:
    picker = RandomPicker(random.Random(3), weighted=True)
    firsts = Counter(picker.pick(None, ["a", "b"], [3.0, 1.0])[0] for _ in range(2000))
    assert 0.68 < firsts["a"] / 2000 < 0.82


def test_round_robin_rotates() -> None:
    picker = RoundRobinPicker()
    assert [picker.pick(None, ["a", "b", "c"], [0, 0, 0])[0] for _ in range(4)] == ["a", "b", "c", "a"]
