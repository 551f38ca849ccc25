"""Scale from zero: requests for a model whose ModelDeployments have no ready replica wait here, in a
bounded queue per model, while one wake per model runs (sent again when it grows old). A routing table
with a ready replica releases them; a full queue or a wait past the timeout is a 503 with Retry-After,
and a client that leaves while held is let go. The proxy holds requests; the app hands it each table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from infleet.gateway.config import ScaleFromZeroConfig
from infleet.gateway.metrics import GatewayMetrics
from infleet.gateway.routing_table import ModelRoute, RoutingTable
from infleet.gateway.waker import Waker
from infleet.kube.clock import Clock

log = logging.getLogger("infleet.gateway")

Receive = Callable[[], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Unavailable:
    """A held request the gateway answers 503 with ``retry_after``, counted under rejection ``reason``."""

    reason: str
    message: str
    retry_after: int


@dataclass(slots=True)
class _Waking:
    """One model's wake: when it began, when it was last sent, and the requests waiting for it."""

    started: float
    sent: float
    waiters: set[asyncio.Future[ModelRoute | Unavailable]] = field(default_factory=set)


class WakeQueue:
    def __init__(
        self,
        config: ScaleFromZeroConfig,
        waker: Waker | None,
        table: RoutingTable,
        metrics: GatewayMetrics,
        clock: Clock,
    ) -> None:
        self.config = config
        self.waker = waker
        self.metrics = metrics
        self.clock = clock
        self._table = table
        self._waking: dict[str, _Waking] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def held(self, model: str) -> int:
        waking = self._waking.get(model)
        return len(waking.waiters) if waking is not None else 0

    async def hold(self, route: ModelRoute, receive: Receive) -> ModelRoute | Unavailable | None:
        """Waits for a ready replica of ``route``'s model: the route to serve from once one is there,
        why the request gets a 503, or None when the client left while it waited."""
        current = self._table.lookup(route.name)
        if current is None or current.replicas or not current.wake:
            return self._released(route.name, current)  # the table changed since the request began
        waking = self._wake_if_needed(current)
        if len(waking.waiters) >= self.config.queue_size:
            message = (
                f"model {route.name!r} is waking from zero and {self.config.queue_size} requests already "
                "wait for it (scale_from_zero.queue_size); retry later"
            )
            return Unavailable("wake_queue_full", message, self.config.retry_after)
        future: asyncio.Future[ModelRoute | Unavailable] = asyncio.get_running_loop().create_future()
        waking.waiters.add(future)
        gauge = self.metrics.held.labels(route.name)
        gauge.inc()
        try:
            return await self._wait(route.name, future, receive)
        finally:
            waking.waiters.discard(future)
            gauge.dec()

    def _wake_if_needed(self, route: ModelRoute) -> _Waking:
        """The model's wake: sent now if there is none, or again if it is old and nothing came of it."""
        now = self.clock.now()
        waking = self._waking.get(route.name)
        if waking is None:
            waking = self._waking[route.name] = _Waking(now, now)
            self._send(route)
        elif now - waking.sent >= self.config.rewake_after:
            waking.sent = now
            self._send(route)
        return waking

    async def _wait(
        self, model: str, future: asyncio.Future[ModelRoute | Unavailable], receive: Receive
    ) -> ModelRoute | Unavailable | None:
        timer = asyncio.ensure_future(self.clock.sleep(self.config.timeout))
        left = asyncio.ensure_future(_disconnected(receive))
        waits: set[asyncio.Future[Any]] = {future, timer, left}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (timer, left):
                task.cancel()
        if future.done():
            return future.result()
        if left.done() and not left.cancelled():
            self.metrics.rejections.labels("client_left_while_waking").inc()
            return None
        message = (
            f"model {model!r} has no ready replica {self.config.timeout:g} s after it was asked to wake "
            "(scale_from_zero.timeout); its ModelDeployment's status says why"
        )
        return Unavailable("wake_timeout", message, self.config.retry_after)

    @staticmethod
    def _released(model: str, route: ModelRoute | None) -> ModelRoute | Unavailable:
        if route is None:
            return Unavailable("model_removed", f"model {model!r} is no longer served here", 1)
        return route

    def table_changed(self, table: RoutingTable) -> None:
        """A new routing table: the models it gives a ready replica (or no longer serves) release their
        waiting requests. Costs nothing while no model is waking."""
        self._table = table
        if not self._waking:
            return
        now = self.clock.now()
        for model, waking in list(self._waking.items()):
            route = table.lookup(model)
            if route is not None and not route.replicas and route.wake:
                continue  # still asleep
            del self._waking[model]
            if route is not None and route.replicas:
                self.metrics.wake_duration.labels(model).observe(now - waking.started)
                log.info(
                    "model %s woke in %.2f s: %d ready replicas, %d held requests released",
                    model,
                    now - waking.started,
                    len(route.replicas),
                    len(waking.waiters),
                )
            released = self._released(model, route)
            for future in waking.waiters:
                if not future.done():
                    future.set_result(released)

    def _send(self, route: ModelRoute) -> None:
        """Starts a wake in its own task: the request that caused it may leave before it is sent."""
        self.metrics.wakes.labels(route.name).inc()
        targets = ", ".join(
            f"{t.namespace}/{t.name}" + (f" in {t.clusters}" if t.clusters else "") for t in route.wake
        )
        log.info("waking model %s: %s", route.name, targets)
        if self.waker is None:
            log.warning("model %s has no ready replica and this gateway has no waker", route.name)
            return
        task = asyncio.create_task(self._wake(route))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _wake(self, route: ModelRoute) -> None:
        assert self.waker is not None
        try:
            await self.waker.wake(route.name, route.wake)
        except Exception as exc:  # logged and sent again after rewake_after; held requests keep waiting
            log.warning("wake of model %s failed: %s", route.name, exc)

    async def close(self) -> None:
        """Answers every held request (the gateway is stopping) and stops the wakes in flight."""
        stopping = Unavailable("stopping", "the gateway is stopping; retry", 1)
        for waking in self._waking.values():
            for future in waking.waiters:
                if not future.done():
                    future.set_result(stopping)
        self._waking.clear()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _disconnected(receive: Receive) -> None:
    """Returns once the client has gone (the body was read already, so nothing else arrives)."""
    while (await receive())["type"] != "http.disconnect":
        pass
