"""Passive outlier detection: a replica that fails several times in a row (connect errors, 5xx) cools
down for a while, and a 429 cools it down briefly at once, like Envoy's outlier detection and
LiteLLM's cooldowns. Called by the proxy after every upstream attempt; the clock is the caller's.
"""

from __future__ import annotations

from infleet.gateway.config import OutlierConfig
from infleet.gateway.replica import Replica


class OutlierDetector:
    def __init__(self, config: OutlierConfig) -> None:
        self.config = config
        self.ejections = 0

    def success(self, replica: Replica) -> None:
        replica.consecutive_failures = 0
        replica.unreachable = False

    def failure(self, replica: Replica, now: float, status: int = 0, connect_error: bool = False) -> None:
        """Records a failed attempt; `status` 0 means no HTTP answer at all."""
        if status == 429:
            self._eject(replica, now, self.config.cooldown_on_429)
            return
        replica.consecutive_failures += 1
        # A refused connection is proof enough that the replica is gone: eject at once so traffic
        # moves within the same second instead of after several more failed requests.
        if connect_error or replica.consecutive_failures >= self.config.consecutive_failures:
            self._eject(replica, now, self.config.cooldown)
            replica.consecutive_failures = 0
            # The health checker lifts this cooldown as soon as the replica answers its probe again.
            replica.unreachable = connect_error

    def _eject(self, replica: Replica, now: float, cooldown: float) -> None:
        if cooldown > 0 and replica.cooldown_until < now + cooldown:
            replica.cooldown_until = now + cooldown
            self.ejections += 1
