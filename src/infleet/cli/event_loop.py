"""How every long-running command runs its coroutine: on uvloop where it is installed (a dependency on
Linux and macOS; its loop costs the controllers' many small HTTP round trips much less), else asyncio."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # Windows: uvloop is not installed there
        return asyncio.run(main)
    return uvloop.run(main)
