"""Retry budget: retries may add at most `ratio` of the request rate plus a small floor, so a failing
fleet is not hit by a retry storm (Finagle / Envoy retry budgets). Called by the proxy per request.
"""

from __future__ import annotations

from collections.abc import Callable


class RetryBudget:
    """A token bucket: each request deposits `ratio` tokens, each retry withdraws one."""

    def __init__(self, ratio: float, min_per_second: float, clock: Callable[[], float]) -> None:
        self._ratio = ratio
        self._min_rate = min_per_second
        self._clock = clock
        self._cap = max(10.0, min_per_second * 10)
        self._tokens = self._cap
        self._last = clock()

    def deposit(self) -> None:
        self._tokens = min(self._cap, self._tokens + self._ratio)

    def try_withdraw(self) -> bool:
        now = self._clock()
        self._tokens = min(self._cap, self._tokens + (now - self._last) * self._min_rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
