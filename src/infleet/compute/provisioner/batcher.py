"""Karpenter's batching window: the first pending pod opens it, each further one extends it by ``idle``
seconds, and it closes ``max_wait`` seconds after opening at the latest, so a burst of pods is packed
together instead of one NodeClaim per pod. The provisioner waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib

from infleet.kube.clock import Clock


class Batcher:
    def __init__(self, clock: Clock, idle: float = 1.0, max_wait: float = 10.0) -> None:
        self.clock, self.idle, self.max_wait = clock, idle, max_wait
        self._pending = asyncio.Event()
        self._last = 0.0

    def trigger(self) -> None:
        """A pod (or anything the packing depends on) changed: open or extend the window."""
        self._last = self.clock.now()
        self._pending.set()

    async def wait(self, stop: asyncio.Event, resync: float | None = None) -> bool:
        """Wait for a window to open and close; False when stopped. ``resync`` opens one unasked."""
        waiter = asyncio.ensure_future(self._pending.wait())
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({waiter, stopper}, timeout=resync, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, stopper):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if stop.is_set():
            return False
        opened = self.clock.now()
        self._last = max(self._last, opened)
        while not stop.is_set():
            now = self.clock.now()
            close = min(self._last + self.idle, opened + self.max_wait)
            if now >= close:
                break
            await self.clock.sleep(close - now)
        self._pending.clear()
        return not stop.is_set()
