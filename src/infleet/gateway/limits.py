"""Rate and concurrency limits: the `Limiter` port, the plan of counters one request touches, and the
exact in-process implementation. RPM and TPM use fixed one-minute windows on the wall clock (so
several gateways sharing Redis agree on windows); TPM is checked at admission and charged with real
usage when the response ends, so an admitted stream is never cut. Called by the proxy per request.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

WINDOW = 60.0


@dataclass(frozen=True, slots=True)
class LimitPlan:
    """Counters a request touches, each (name, limit); names are stable across gateways."""

    rpm: tuple[tuple[str, int], ...] = ()
    tpm: tuple[tuple[str, int], ...] = ()
    parallel: tuple[tuple[str, int], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rpm or self.tpm or self.parallel)


@dataclass(frozen=True, slots=True)
class Denial:
    counter: str
    limit: int
    retry_after: float

    @property
    def message(self) -> str:
        kind = self.counter.split(":", 1)[0]
        what = {"rpm": "requests per minute", "tpm": "tokens per minute", "par": "concurrent requests"}[kind]
        return f"limit {self.counter} allows {self.limit} {what}; retry in {self.retry_after:.0f} s"


class Limiter(Protocol):
    async def acquire(self, plan: LimitPlan) -> Denial | None:
        """Checks every counter and, only if all pass, counts the request (atomic per plan)."""
        ...

    async def release(self, plan: LimitPlan) -> None:
        """Ends the request's concurrency slots."""
        ...

    async def charge_tokens(self, plan: LimitPlan, tokens: int) -> None: ...

    async def close(self) -> None: ...


def window_of(now: float) -> int:
    return int(now // WINDOW)


def retry_after(now: float) -> float:
    return max(1.0, math.ceil((window_of(now) + 1) * WINDOW - now))


class LocalLimiter:
    """Exact within one process: the event loop runs one check-and-count at a time."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._window = -1
        self._counts: dict[str, int] = {}
        self._parallel: dict[str, int] = {}

    def _roll(self, now: float) -> None:
        window = window_of(now)
        if window != self._window:
            self._window = window
            self._counts.clear()

    async def acquire(self, plan: LimitPlan) -> Denial | None:
        now = self._clock()
        self._roll(now)
        counts = self._counts
        for name, limit in (*plan.rpm, *plan.tpm):
            if counts.get(name, 0) >= limit:
                return Denial(name, limit, retry_after(now))
        for name, limit in plan.parallel:
            if self._parallel.get(name, 0) >= limit:
                return Denial(name, limit, 1.0)
        for name, _ in plan.rpm:
            counts[name] = counts.get(name, 0) + 1
        for name, _ in plan.parallel:
            self._parallel[name] = self._parallel.get(name, 0) + 1
        return None

    async def release(self, plan: LimitPlan) -> None:
        for name, _ in plan.parallel:
            self._parallel[name] -= 1

    async def charge_tokens(self, plan: LimitPlan, tokens: int) -> None:
        self._roll(self._clock())
        for name, _ in plan.tpm:
            self._counts[name] = self._counts.get(name, 0) + tokens

    async def close(self) -> None:
        return None
