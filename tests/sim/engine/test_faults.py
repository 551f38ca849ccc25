"""Fault spec parsing, its text form, and the seeded fault dice."""

from __future__ import annotations

import pytest

from infleet.sim.engine.runtime.faults import FaultSpec, FaultSpecError, FaultState


def test_parse_all_kinds_and_round_trip() -> None:
    spec = FaultSpec.parse(
        "error_rate=0.25, spike=0.1@2.5, hang, crash_after=30, slow_start=5, degrade=0.5, seed=3"
    )
    assert spec.error_rate == 0.25
    assert (spec.spike_rate, spec.spike_s) == (0.1, 2.5)
    assert spec.hang
    assert not spec.crash
    assert spec.crash_after_s == 30
    assert spec.slow_start_s == 5
    assert spec.degrade == 0.5
    assert FaultSpec.parse(spec.to_text()) == spec
    assert FaultSpec.parse("") == FaultSpec()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("explode=1", "unknown fault 'explode'"),
        ("spike=0.5", "spike=RATE@SECONDS"),
        ("error_rate=2", "error_rate"),
    ],
)
def test_bad_specs_name_the_item(text: str, needle: str) -> None:
    with pytest.raises(FaultSpecError, match=needle):
        FaultSpec.parse(text)


def test_state_timing_and_dice() -> None:
    state = FaultState(
        FaultSpec.parse("slow_start=10,crash_after=20,error_rate=0.5,seed=1"), applied_at=100.0
    )
    assert state.starting(105.0)
    assert not state.starting(111.0)
    assert not state.crashed(119.0)
    assert state.crashed(120.0)
    rolls = [state.roll_error() for _ in range(400)]
    assert 150 < sum(rolls) < 250
    again = FaultState(FaultSpec.parse("slow_start=10,crash_after=20,error_rate=0.5,seed=1"), applied_at=0.0)
    assert [again.roll_error() for _ in range(400)] == rolls
