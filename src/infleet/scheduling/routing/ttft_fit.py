"""A replica's time to first token as a line in the prefill work ahead of it: a fixed part (the decode
step the request joins, the network) plus seconds per 1,000 uncached prompt bytes, fitted to the first
bytes the gateway saw, newest samples weighing most.

One ratio (seconds per byte) cannot tell a slow GPU from a long step: an L4 group whose decode step is
100 ms answers a fully cached turn in about 0.12 s, an H100 in 0.04 s, while their prefill speeds differ
far less. A line keeps both, so a cached request and a cold one are each judged by what they cost there.
Weighted least squares over exponentially decayed sums is the usual online form (no sample list, O(1) per
sample); it is written here because it is five sums, not a dependency's worth.
"""

from __future__ import annotations

# Weight of the newest sample: the fit follows about the last ten first tokens.
_DECAY = 0.1
# Below this spread of work (kB, standard deviation) the samples cannot separate the fixed part from
# the slope, so the fit falls back to a line through the origin (one ratio).
_MIN_SPREAD_KB = 0.5


class FirstTokenFit:
    """Exponentially weighted fit of ``seconds = fixed + per_kb * kb``; both 0 until the first sample."""

    __slots__ = ("_n", "_x", "_xx", "_xy", "_y", "fixed_seconds", "learned_at", "seconds_per_kb")

    def __init__(self) -> None:
        self._n = self._x = self._y = self._xx = self._xy = 0.0
        self.fixed_seconds = 0.0
        self.seconds_per_kb = 0.0
        self.learned_at = 0.0  # monotonic time of the newest sample

    @property
    def known(self) -> bool:
        return self._n > 0.0

    def observe(self, seconds: float, kb: float, now: float = 0.0) -> None:
        """One first byte after ``seconds`` for ``kb`` thousand bytes of prefill work ahead of it."""
        self.learned_at = now
        keep = 1.0 - _DECAY if self._n > 0.0 else 0.0
        self._n = self._n * keep + 1.0
        self._x = self._x * keep + kb
        self._y = self._y * keep + seconds
        self._xx = self._xx * keep + kb * kb
        self._xy = self._xy * keep + kb * seconds
        self._solve()

    def predict(self, kb: float) -> float:
        return self.fixed_seconds + self.seconds_per_kb * kb

    def _solve(self) -> None:
        n = self._n
        mean_x, mean_y = self._x / n, self._y / n
        var_x = self._xx / n - mean_x * mean_x
        if var_x >= _MIN_SPREAD_KB * _MIN_SPREAD_KB:
            slope = (self._xy / n - mean_x * mean_y) / var_x
            fixed = mean_y - slope * mean_x
            if slope >= 0.0 and fixed >= 0.0:
                self.fixed_seconds, self.seconds_per_kb = fixed, slope
                return
            if slope < 0.0:  # bigger work came back faster: noise; the mean is the best guess
                self.fixed_seconds, self.seconds_per_kb = mean_y, 0.0
                return
        # Too little spread, or a negative fixed part: a line through the origin.
        self.fixed_seconds = 0.0
        self.seconds_per_kb = self._xy / self._xx if self._xx > 0.0 else 0.0

    def copy_from(self, other: FirstTokenFit) -> None:
        """Take over another fit's state (a replica rebuilt by a config reload keeps what it learned)."""
        self._n, self._x, self._y = other._n, other._x, other._y
        self._xx, self._xy = other._xx, other._xy
        self.fixed_seconds, self.seconds_per_kb = other.fixed_seconds, other.seconds_per_kb
        self.learned_at = other.learned_at
