"""The model's clock: the scheduler only reads ``now()``, so tests and calibration drive it by hand.

The serving runtime steps the scheduler on the event loop's clock instead; unit tests and calibration
runs use ``ManualClock`` and advance it by each step's modelled duration, which makes them deterministic
and instant.
"""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"ManualClock.advance: seconds must be >= 0, got {seconds}")
        self._now += seconds

    def set(self, when: float) -> None:
        self._now = max(self._now, when)
