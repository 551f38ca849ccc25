"""Exponential backoff with jitter, shared by the workqueue (per-key retries) and informers (reconnects).

Randomness is injected so tests can pin the jitter.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class ExponentialBackoff:
    """``base * 2**(failures-1)`` capped at ``cap``, then scaled by a random factor in [1-jitter, 1]."""

    base: float = 0.005
    cap: float = 300.0
    jitter: float = 0.1
    random: Callable[[], float] = field(default=random.random)

    def delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        raw = min(self.cap, self.base * (2.0 ** min(failures - 1, 62)))
        # Jitter only shortens the wait, so the cap stays a real upper bound.
        return raw * (1.0 - self.jitter * self.random())
