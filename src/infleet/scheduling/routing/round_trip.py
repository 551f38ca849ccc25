"""The network round trip to a replica, from the gateway's own metric scrapes: the part of a first
token's time that no engine state explains and that never goes stale while the replica is scraped.

A scrape is a small GET on a kept-alive connection, so its duration is the round trip plus the engine's
time to render its metrics. The estimate follows the fastest scrapes (a new low is taken at once, higher
samples pull it up slowly): a busy engine's slow /metrics must not read as a longer path, while a path
that really got longer (a rerouted link) still shows within a few seconds of scrapes.
"""

from __future__ import annotations

# How far one sample above the estimate pulls it up: a path that got longer for good is two thirds
# followed after about 20 scrapes (4 s at the default 200 ms).
_RISE = 0.05


class RoundTrip:
    """Seconds of network round trip to one replica; 0 until the first scrape answers."""

    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds = 0.0

    def observe(self, seconds: float) -> None:
        if seconds <= 0.0:
            return
        if self.seconds == 0.0 or seconds < self.seconds:
            self.seconds = seconds
        else:
            self.seconds += _RISE * (seconds - self.seconds)
