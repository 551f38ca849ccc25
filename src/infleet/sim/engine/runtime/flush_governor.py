"""The flush governor: how long a process's streams may go between chunks, decided for all its engines.

Streaming a chunk per token is what vLLM does, but a process hosting thousands of streams cannot write
them all and still take new requests and first tokens on time, which is what the simulation must not
delay. The governor coalesces: it widens the flush gap (the time a stream may wait between chunks)
while the process uses more than 70% of a core or its loop runs late, and narrows it again below 60%.

One governor per process (``EngineHost`` shares one): engines adapting on their own all reacted to the
same reading at once and swung the process between bursts of chunks and idle.
"""

from __future__ import annotations

import time

_WINDOW_S = 0.1
_BUSY_HIGH = 0.7
_BUSY_LOW = 0.6
_LATE_SHARE_HIGH = 0.1
_LATE_SHARE_LOW = 0.02
LATE_S = 0.002  # a step timer this late means the loop is behind (just over its 1 ms resolution)
_MIN_GAP_S = 0.02
_MAX_GAP_S = 0.25


class FlushGovernor:
    """Measures the process's CPU share in short windows and sets the flush gap from it."""

    def __init__(self, window_s: float = _WINDOW_S) -> None:
        if window_s <= 0:
            raise ValueError(f"FlushGovernor: window_s must be > 0, got {window_s}")
        self._window_s = window_s
        self._wall0 = time.monotonic()
        self._cpu0 = time.process_time()
        self.gap = 0.0
        self.busy = 0.0
        self._steps = 0
        self._late = 0

    def observe(self, lateness: float) -> float:
        """Take one step's lateness (seconds past its planned end); returns the flush gap to use."""
        self._steps += 1
        if lateness > LATE_S:
            self._late += 1
        now = time.monotonic()
        elapsed = now - self._wall0
        if elapsed >= self._window_s:
            self.busy = self._cpu_share(elapsed)
            late_share = self._late / self._steps
            self._wall0, self._steps, self._late = now, 0, 0
            if self.busy > _BUSY_HIGH or late_share > _LATE_SHARE_HIGH:
                self.gap = min(_MAX_GAP_S, max(_MIN_GAP_S, self.gap * 2))
            elif self.busy < _BUSY_LOW and late_share < _LATE_SHARE_LOW and self.gap > 0:
                self.gap = self.gap * 0.75 if self.gap > 0.005 else 0.0  # gently: halving swung back
        return self.gap

    def _cpu_share(self, elapsed: float) -> float:
        cpu = time.process_time()
        share = (cpu - self._cpu0) / elapsed
        self._cpu0 = cpu
        return share
