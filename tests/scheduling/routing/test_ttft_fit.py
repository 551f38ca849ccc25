"""The first-token line a replica learns: a fixed part (the decode step a request joins) and seconds per
uncached kilobyte, so a cached turn and a cold prompt are each predicted by what they cost there."""

from __future__ import annotations

import pytest

from infleet.scheduling.routing.ttft_fit import FirstTokenFit


def fitted(samples: list[tuple[float, float]]) -> FirstTokenFit:
    fit = FirstTokenFit()
    for kb, seconds in samples:
        fit.observe(seconds, kb)
    return fit


def test_a_long_decode_step_and_prefill_speed_are_told_apart() -> None:
    # An L4 group: every first token waits for a ~0.1 s step; prefill adds 0.03 s per kB.
    fit = fitted([(kb, 0.1 + 0.03 * kb) for kb in (1, 2, 8, 1, 12, 3, 1, 6)])
    assert fit.fixed_seconds == pytest.approx(0.1, abs=1e-6)
    assert fit.seconds_per_kb == pytest.approx(0.03, abs=1e-6)
    # One ratio learned from the same samples would price a cold 10 kB prompt at ~0.6 s, not 0.4 s.
    assert fit.predict(10) == pytest.approx(0.4)


def test_the_newest_samples_weigh_most() -> None:
    fit = fitted(
        [(kb, 0.05 + 0.02 * kb) for kb in (1, 4, 9) * 10] + [(kb, 0.2 + 0.02 * kb) for kb in (1, 4, 9) * 10]
    )
    assert fit.fixed_seconds == pytest.approx(0.2, abs=0.02)  # the replica got slower; the fit followed


def test_without_spread_in_work_the_fit_is_one_ratio() -> None:
    fit = fitted([(1.0, 0.12), (1.1, 0.13), (1.0, 0.12)])
    assert fit.fixed_seconds == 0.0
    assert fit.predict(1.0) == pytest.approx(0.12, rel=0.05)


def test_noise_never_gives_a_negative_slope_or_fixed_part() -> None:
    backwards = fitted([(1, 0.5), (10, 0.1), (5, 0.3)])  # bigger work came back faster
    assert backwards.seconds_per_kb == 0.0
    assert backwards.fixed_seconds == pytest.approx(0.3, abs=0.02)
    steep = fitted([(1, 0.0), (2, 0.0), (10, 1.0)])  # the line would cross below zero
    assert steep.fixed_seconds == 0.0
    assert steep.seconds_per_kb > 0.0


def test_state_carries_over_to_a_rebuilt_replica() -> None:
    old = fitted([(1, 0.1), (5, 0.3)])
    new = FirstTokenFit()
    new.copy_from(old)
    assert (new.fixed_seconds, new.seconds_per_kb, new.predict(3)) == (
        old.fixed_seconds,
        old.seconds_per_kb,
        old.predict(3),
    )
    new.observe(0.3, 9)
    assert new.known
    assert old.predict(9) != new.predict(9)
