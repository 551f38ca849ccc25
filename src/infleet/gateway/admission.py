"""Priority and load shedding. When every replica of a model is saturated, `sheddable` requests get
429 at once while `critical` and `standard` ones wait in one bounded queue (critical first) until a
replica frees a slot. Called by the proxy; woken by the proxy when any request ends.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

PRIORITIES = {"critical": 0, "standard": 1, "sheddable": 2}


class AdmissionQueue:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._heap: list[tuple[int, int, asyncio.Future[None]]] = []  # (priority, arrival, waiter)
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    async def wait(self, priority: str, patience: float) -> bool:
        """Waits for a freed slot; False when the queue is full or `patience` seconds passed."""
        if len(self._heap) >= self.capacity:
            return False
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (PRIORITIES.get(priority, 1), next(self._seq), future)
        heapq.heappush(self._heap, entry)
        try:
            async with asyncio.timeout(patience):
                await future
            return True
        except TimeoutError:
            return False
        finally:
            if not future.done():
                future.cancel()

    def notify(self) -> None:
        """A slot was freed: wake the most urgent live waiter."""
        while self._heap:
            _, _, future = heapq.heappop(self._heap)
            if not future.done():
                future.set_result(None)
                return
