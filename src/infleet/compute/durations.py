"""Karpenter's duration strings as seconds: Go's ``time.ParseDuration`` form (``720h``, ``1h30m``,
``10s``, ``500ms``) plus ``Never``. Disruption reads ``consolidateAfter``, ``expireAfter`` and budget
``duration`` with it; termination reads ``terminationGracePeriod``.
"""

from __future__ import annotations

import re

NEVER = "Never"

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(value: str | None) -> float | None:
    """Seconds of ``value``; None for ``Never`` or no value. ValueError names the malformed string."""
    if value is None or value == NEVER:
        return None
    text = value.strip()
    if text == "0":
        return 0.0
    total, position = 0.0, 0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise ValueError(f"duration {value!r}: use Go's form such as 30s, 10m, 1h30m or 720h, or Never")
    return total
