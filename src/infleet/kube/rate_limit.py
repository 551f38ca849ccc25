"""How long a workqueue key waits before its next try: per-key exponential backoff and an overall
token bucket, the larger of the two winning (client-go's default controller rate limiter).

Written here rather than taken from a library because it must run on the injected :class:`Clock` and
answer "how long to wait" for a delayed add, not block a caller.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from infleet.kube.backoff import ExponentialBackoff


@dataclass
class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved; :meth:`reserve` books one and says the wait."""

    rate: float = 10.0
    burst: int = 100
    _tokens: float = field(default=-1.0, init=False)
    _last: float | None = field(default=None, init=False)

    def reserve(self, now: float) -> float:
        if self._last is None:
            self._tokens, self._last = float(self.burst), now
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


@dataclass
class RateLimiter:
    """Per-key failure counts turned into delays, bounded below by the overall bucket."""

    backoff: ExponentialBackoff = field(default_factory=ExponentialBackoff)
    bucket: TokenBucket | None = field(default_factory=TokenBucket)
    _failures: dict[Hashable, int] = field(default_factory=dict, init=False)

    def when(self, key: Hashable, now: float) -> float:
        """Record one more failure of ``key`` and return how long it should wait."""
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        delay = self.backoff.delay(failures)
        if self.bucket is not None:
            delay = max(delay, self.bucket.reserve(now))
        return delay

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def failures(self, key: Hashable) -> int:
        return self._failures.get(key, 0)
