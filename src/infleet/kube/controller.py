"""A Controller wires informers, a workqueue, N workers and a Reconciler.

Watches turn informer events into Requests: :meth:`Controller.watch_for` for the primary kind (the object's
own key), :meth:`Controller.watch_owned` for objects whose controller owner reference names the primary
kind, :meth:`Controller.watch_mapped` for anything else (another cluster, a label, a shared config).
The Manager runs a controller as a Runnable, only while leading if ``needs_leader``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from infleet.kube.api_error import is_stale_write
from infleet.kube.clock import Clock
from infleet.kube.controller_metrics import ControllerMetrics
from infleet.kube.informer import Informer, InformerEvent
from infleet.kube.rate_limit import RateLimiter
from infleet.kube.reconciler import Reconciler, Request, Result, TerminalError
from infleet.kube.workqueue import ShutDownError, WorkQueue

log = logging.getLogger(__name__)

Mapper = Callable[[InformerEvent], Iterable[Request]]


def request_for(event: InformerEvent) -> Request:
    metadata = event.obj.get("metadata") or {}
    return Request(event.cluster, str(metadata.get("namespace") or ""), str(metadata["name"]))


def owner_mapper(owner_kind: str, owner_api_group: str = "") -> Mapper:
    """Map an object to the owner that controls it (``controller: true``) of kind ``owner_kind``."""

    def mapper(event: InformerEvent) -> Iterable[Request]:
        metadata = event.obj.get("metadata") or {}
        for ref in metadata.get("ownerReferences") or []:
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            if ref.get("controller") and ref.get("kind") == owner_kind and group == owner_api_group:
                yield Request(event.cluster, str(metadata.get("namespace") or ""), str(ref["name"]))

    return mapper


@dataclass
class ControllerSettings:
    workers: int = 1
    needs_leader: bool = True
    sync_timeout: float = 60.0
    drain_timeout: float = 10.0
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)


class Controller:
    """Reconciles the Requests its watches produce with ``reconciler``, ``settings.workers`` at a time."""

    def __init__(
        self,
        name: str,
        reconciler: Reconciler,
        settings: ControllerSettings | None = None,
        metrics: ControllerMetrics | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self.reconciler = reconciler
        self.settings = settings or ControllerSettings()
        self.metrics = metrics or ControllerMetrics()
        self.queue: WorkQueue[Request] = WorkQueue(clock, self.settings.rate_limiter)
        self.metrics.track_queue(name, self.queue)  # type: ignore[arg-type]
        self.informers: list[Informer] = []

    @property
    def needs_leader(self) -> bool:
        return self.settings.needs_leader

    def watch_for(self, informer: Informer) -> None:
        """Reconcile every object of ``informer``'s kind when it changes."""
        self.watch_mapped(informer, lambda event: (request_for(event),))

    def watch_owned(self, informer: Informer, owner_kind: str, owner_api_group: str = "") -> None:
        """Reconcile the controlling owner (of kind ``owner_kind``) when an owned object changes."""
        self.watch_mapped(informer, owner_mapper(owner_kind, owner_api_group))

    def watch_mapped(self, informer: Informer, mapper: Mapper, batch_seconds: float = 0.0) -> None:
        """Enqueue what ``mapper`` names for each event. With ``batch_seconds``, a key waits that long
        first, so a burst of events for it costs one reconcile (kube-controller-manager's batch period
        for EndpointSlices, e.g.); only for work no one waits on."""

        def enqueue(event: InformerEvent) -> None:
            for request in mapper(event):
                if batch_seconds > 0:
                    self.queue.add_after(request, batch_seconds)
                else:
                    self.queue.add(request)

        if informer not in self.informers:
            self.informers.append(informer)
        informer.add_handler(enqueue)

    async def run(self, stop: asyncio.Event) -> None:
        """Wait for the informers' caches, reconcile until ``stop``, then drain and return."""
        for informer in self.informers:
            async with asyncio.timeout(self.settings.sync_timeout):
                await informer.wait_synced()
        workers = [asyncio.ensure_future(self._worker()) for _ in range(self.settings.workers)]
        await stop.wait()
        self.queue.shutdown(drain=True)
        _, pending = await asyncio.wait(workers, timeout=self.settings.drain_timeout)
        for worker in pending:
            log.warning("controller %s: a reconcile outlived the drain timeout; cancelling it", self.name)
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def _worker(self) -> None:
        while True:
            try:
                request = await self.queue.get()
            except ShutDownError:
                return
            try:
                await self.reconcile_once(request)
            finally:
                self.queue.done(request)

    def _retry(self, request: Request, error: Exception) -> str:
        """Requeue a failed reconcile with backoff; the outcome label it is counted under.

        A write refused because the object changed since it was read (409 Conflict) is routine for a
        level-triggered controller: it is requeued quietly, as controller-runtime does, not logged as an
        error with a traceback.
        """
        self.queue.add_rate_limited(request)
        if is_stale_write(error):
            log.debug("controller %s: %s changed meanwhile (%s); requeued", self.name, request, error)
            return "conflict"
        self.metrics.errors.labels(self.name).inc()
        log.exception("controller %s: reconciling %s failed; retrying with backoff", self.name, request)
        return "error"

    async def reconcile_once(self, request: Request) -> None:
        """Run the reconciler for one request and requeue by its outcome."""
        started = time.perf_counter()
        outcome = "success"
        try:
            result = await self.reconciler.reconcile(request)
        except TerminalError as error:
            outcome = "terminal_error"
            self.metrics.errors.labels(self.name).inc()
            self.queue.forget(request)
            log.error("controller %s: %s: %s (not retried)", self.name, request, error)
        except Exception as error:
            outcome = self._retry(request, error)
        else:
            self.queue.forget(request)
            if isinstance(result, Result) and result.requeue_after is not None:
                outcome = "requeue_after"
                self.queue.add_after(request, result.requeue_after)
        finally:
            self.metrics.duration.labels(self.name).observe(time.perf_counter() - started)
        self.metrics.reconciles.labels(self.name, outcome).inc()
