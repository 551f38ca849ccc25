"""Priority and load shedding. When every replica of a model is saturated, `sheddable` requests get
429 at once while `critical` and `standard` ones wait in one bounded queue (critical first) until a
replica frees a slot. The gate is asked by the retry policy before the first attempt; the queue is
woken by the upstream call whenever a request ends.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass

from infleet.gateway.config import GatewayConfig
from infleet.gateway.routing_table import ModelRoute
from infleet.scheduling import Decision
from infleet.scheduling.routing import Endpoint, RoutingRequest, SaturationPolicy

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


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request the gate turned away: 429 with `message`, counted under rejection `reason`."""

    reason: str
    message: str


_SHED = Refusal("shed", "shed: replicas are saturated")


class AdmissionGate:
    """Lets a request through to its model's replicas, holds it in the queue while they are all at
    capacity, or refuses it: at once if it is sheddable, else when the queue is full or patience ran out.
    A sheddable request is also refused when every replica it could use is saturated."""

    def __init__(self, queue: AdmissionQueue, now: Callable[[], float], config: GatewayConfig) -> None:
        self.queue = queue
        self._now = now
        self.configure(config)

    def configure(self, config: GatewayConfig) -> None:
        admission = config.admission
        self.queue.capacity = admission.queue_size
        self._patience = admission.queue_timeout
        self.saturation = SaturationPolicy(
            admission.queue_threshold, admission.kv_threshold, config.scrape.stale_after
        )

    async def admit(
        self,
        route: ModelRoute,
        routing: RoutingRequest,
        decision: Decision[Endpoint],
        priority: str,
        deadline: float,
    ) -> Decision[Endpoint] | Refusal:
        """The decision to walk (scheduled again after each wait), or why the request is refused."""
        loop = asyncio.get_running_loop()
        while not decision.ranked and route.capabilities.saturated(decision.rejected):
            if priority == "sheddable" or not await self.queue.wait(
                priority, min(self._patience, deadline - loop.time())
            ):
                return Refusal("saturated", f"every replica of {route.name!r} is saturated; retry later")
            routing.now = self._now()
            decision = route.profile.schedule(routing, route.replicas)
        if priority == "sheddable" and decision.ranked and self._all_saturated(decision.ranked, routing.now):
            return _SHED
        return decision

    def _all_saturated(self, ranked: list[Endpoint], now: float) -> bool:
        saturated = self.saturation.saturated
        return all(saturated(endpoint, now) for endpoint in ranked)
