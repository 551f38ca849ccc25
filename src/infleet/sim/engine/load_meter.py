"""How busy the hosting process is: CPU time over wall time, measured in short windows.

Engines coalesce stream chunks when the host is busy (``SimEngine`` adaptive streaming). Lateness of
the loop's timers alone is a late signal: by the time steps run late, requests are already queueing
behind chunk writes. The CPU share says it earlier, so the engines can keep headroom for what the
simulation must not delay (new requests and first tokens) and spend only the rest on fine-grained
streaming.
"""

from __future__ import annotations

import time

_WINDOW_S = 0.1


class LoadMeter:
    """The share of one core the process used over the last completed window (0 at first)."""

    def __init__(self, window_s: float = _WINDOW_S) -> None:
        if window_s <= 0:
            raise ValueError(f"LoadMeter: window_s must be > 0, got {window_s}")
        self._window_s = window_s
        self._wall0 = time.monotonic()
        self._cpu0 = time.process_time()
        self._busy = 0.0

    def busy(self) -> float:
        now = time.monotonic()
        elapsed = now - self._wall0
        if elapsed >= self._window_s:
            cpu = time.process_time()
            self._busy = (cpu - self._cpu0) / elapsed
            self._wall0, self._cpu0 = now, cpu
        return self._busy
