"""How every long-running command runs its coroutine: on uvloop where it is installed (a dependency on
Linux and macOS; its loop costs the controllers' many small HTTP round trips much less), else asyncio,
with the garbage collector tuned for processes that hold large caches of long-lived objects."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# Young collections every 50,000 net allocations instead of 700, and a full one after 100 middle ones
# instead of 10. With the defaults, a hub holding a thousand placements' objects in its informers ran a
# full collection about once a second, 130 ms each (a fifth of its time, every pause a stall of all its
# controllers); the API server's watch cache is the same shape. Cycles are rare in decoded JSON, so
# collecting them later costs little memory.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Set the thresholds above, and move what exists now (modules, the configuration) out of every
    collection's way: it lives as long as the process."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()


def run(main: Coroutine[Any, Any, T]) -> T:
    tune_gc()
    try:
        import uvloop
    except ImportError:  # Windows: uvloop is not installed there
        return asyncio.run(main)
    return uvloop.run(main)
