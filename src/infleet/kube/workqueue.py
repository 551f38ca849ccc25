"""The controller workqueue: deduplicated keys, one worker per key at a time, delayed and rate-limited adds.

Semantics follow client-go's workqueue. A key added while queued is not queued twice; a key added while
a worker holds it is queued again only when that worker calls :meth:`done`, so a key is never processed
concurrently and no change is missed. Failures go through :meth:`add_rate_limited` (per-key exponential
backoff with jitter, overall token bucket). Controllers own one queue each; time comes from a Clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from infleet.kube.clock import Clock, SystemClock
from infleet.kube.rate_limit import RateLimiter

K = TypeVar("K", bound=Hashable)


class ShutDownError(Exception):
    """Raised by :meth:`WorkQueue.get` once the queue is shut down (and drained, when draining)."""


class WorkQueue(Generic[K]):
    """Deduplicating, per-key serialized queue. Workers loop ``key = await get(); ...; done(key)``."""

    def __init__(self, clock: Clock | None = None, rate_limiter: RateLimiter | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.rate_limiter = rate_limiter or RateLimiter()
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._waiting: list[tuple[float, int, K]] = []
        self._ready_at: dict[K, float] = {}
        self._order = itertools.count()
        self._changed = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._shutting_down = False
        self._drain = True
        self.adds = 0
        self.retries = 0

    @property
    def depth(self) -> int:
        """Keys ready to be handed to a worker."""
        return len(self._queue)

    @property
    def waiting(self) -> int:
        """Keys scheduled for later (requeue_after, backoff)."""
        return len(self._ready_at)

    @property
    def processing(self) -> int:
        return len(self._processing)

    def _wake(self) -> None:
        self._changed.set()

    def add(self, key: K) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self.adds += 1
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._wake()

    def add_after(self, key: K, delay: float) -> None:
        """Add ``key`` once ``delay`` seconds have passed; an earlier pending time for it wins."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        ready = self.clock.now() + delay
        if self._ready_at.get(key, float("inf")) <= ready:
            return
        self._ready_at[key] = ready
        heapq.heappush(self._waiting, (ready, next(self._order), key))
        self._wake()

    def add_rate_limited(self, key: K) -> None:
        """Retry ``key`` after its backoff (it failed)."""
        self.retries += 1
        self.add_after(key, self.rate_limiter.when(key, self.clock.now()))

    def forget(self, key: K) -> None:
        """Reset ``key``'s backoff (it succeeded)."""
        self.rate_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return self.rate_limiter.failures(key)

    def _promote_ready(self) -> float | None:
        """Move due delayed keys into the queue; return seconds until the next one is due."""
        now = self.clock.now()
        while self._waiting:
            ready, _, key = self._waiting[0]
            if self._ready_at.get(key) != ready:
                heapq.heappop(self._waiting)  # superseded by an earlier time
                continue
            if ready > now:
                return ready - now
            heapq.heappop(self._waiting)
            del self._ready_at[key]
            self.add(key)
        return None

    async def get(self) -> K:
        """The next key; the caller must call :meth:`done` with it. Raises :class:`ShutDownError`."""
        while True:
            next_due = None if self._shutting_down else self._promote_ready()
            if self._queue and not (self._shutting_down and not self._drain):
                key = self._queue.popleft()
                self._dirty.discard(key)
                self._processing.add(key)
                self._idle.clear()
                return key
            if self._shutting_down:
                raise ShutDownError
            self._changed.clear()
            await self._wait_for_change(next_due)

    async def _wait_for_change(self, delay: float | None) -> None:
        changed = asyncio.ensure_future(self._changed.wait())
        waits: set[asyncio.Future[None] | asyncio.Task[bool]] = {changed}
        if delay is not None:
            waits.add(asyncio.ensure_future(self.clock.sleep(delay)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake()
        if not self._processing:
            self._idle.set()

    def shutdown(self, drain: bool = True) -> None:
        """Stop accepting keys. With ``drain`` workers still get the queued keys; delayed keys are dropped."""
        self._shutting_down = True
        self._drain = drain
        self._waiting.clear()
        self._ready_at.clear()
        self._wake()

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    async def wait_idle(self) -> None:
        """Until no key is being processed."""
        await self._idle.wait()
