"""The Manager runs a process's Runnables: informers, controllers, servers, and leader election.

It starts informers first, then everything else; leader-only runnables start once the elector leads.
On stop (``stop()``, SIGINT, SIGTERM) it stops controllers and servers first (queues drain), then
informers, then releases the Lease. Losing the Lease stops the whole manager, as in controller-runtime:
a process that is no longer sure it leads must not go on writing. ``infleet up`` and every controller
process build one Manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from infleet.api.resource_kind import ResourceKind
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.controller import Controller, ControllerSettings
from infleet.kube.controller_metrics import ControllerMetrics
from infleet.kube.health_server import HealthServer
from infleet.kube.informer import Informer, InformerSettings
from infleet.kube.leader_election import LeaderElectionSettings, LeaderElector
from infleet.kube.reconciler import Reconciler

log = logging.getLogger(__name__)


class Runnable(Protocol):
    """Anything the Manager runs: ``run`` returns soon after ``stop`` is set."""

    async def run(self, stop: asyncio.Event) -> None: ...


@dataclass
class ManagerSettings:
    name: str = "infleet"
    health_host: str = "127.0.0.1"
    health_port: int | None = None  # None: no HTTP endpoints; 0: a free port
    leader_election: LeaderElectionSettings | None = None
    handle_signals: bool = True


class Manager:
    """Owns informers (shared per cluster, kind and selection), controllers and other runnables."""

    def __init__(
        self,
        settings: ManagerSettings | None = None,
        leader_client: ClusterClient | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings or ManagerSettings()
        self.clock = clock
        self.metrics = ControllerMetrics()
        self._informers: dict[tuple[str, ResourceKind, str], Informer] = {}
        self._runnables: list[tuple[Runnable, bool]] = []
        self._stop = asyncio.Event()
        self.elector: LeaderElector | None = None
        if self.settings.leader_election is not None:
            if leader_client is None:
                raise ValueError(
                    "ManagerSettings.leader_election is set: pass leader_client (the Lease's cluster)"
                )
            self.elector = LeaderElector(leader_client, self.settings.leader_election, clock)
        self.health: HealthServer | None = None
        if self.settings.health_port is not None:
            self.health = HealthServer(
                self.metrics.registry,
                {"ping": lambda: None},
                {"informers": self._informers_synced},
                self.settings.health_host,
                self.settings.health_port,
            )

    def informer(
        self, client: ClusterClient, kind: ResourceKind, settings: InformerSettings | None = None
    ) -> Informer:
        """The shared informer of ``kind`` in ``client``'s cluster (one per distinct selection)."""
        settings = settings or InformerSettings()
        selection = f"{settings.namespace}|{settings.label_selector}|{settings.field_selector}"
        key = (client.name, kind, selection)
        if key not in self._informers:
            self._informers[key] = Informer(client, kind, settings)
        return self._informers[key]

    def controller(
        self, name: str, reconciler: Reconciler, settings: ControllerSettings | None = None
    ) -> Controller:
        """A new controller reporting into this manager's metrics, added as a runnable."""
        controller = Controller(name, reconciler, settings, self.metrics, self.clock)
        self.add(controller, controller.needs_leader)
        return controller

    def add(self, runnable: Runnable, needs_leader: bool = False) -> None:
        self._runnables.append((runnable, needs_leader))

    @property
    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    def _informers_synced(self) -> str | None:
        waiting = [f"{i.kind} in {i.cluster}" for i in self._informers.values() if not i.has_synced()]
        return f"caches not synced: {', '.join(waiting)}" if waiting else None

    def stop(self) -> None:
        self._stop.set()

    def _start(self, runnable: Runnable, stop: asyncio.Event) -> asyncio.Future[None]:
        task = asyncio.ensure_future(runnable.run(stop))
        task.add_done_callback(self._on_runnable_done)
        return task

    def _on_runnable_done(self, task: asyncio.Future[None]) -> None:
        # As in controller-runtime, a runnable that fails takes the manager down rather than leaving a
        # process that looks healthy but no longer reconciles.
        if not task.cancelled() and task.exception() is not None:
            log.error("manager %s: a runnable failed: %r; stopping", self.settings.name, task.exception())
            self._stop.set()

    async def run(self) -> None:
        """Run until :meth:`stop`, a signal, or loss of leadership; then stop everything in order."""
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM) if self.settings.handle_signals else ()
        for signum in signals:
            loop.add_signal_handler(signum, self._stop.set)
        stop_workers, stop_informers, stop_elector = asyncio.Event(), asyncio.Event(), asyncio.Event()
        informer_tasks = [self._start(i, stop_informers) for i in self._informers.values()]
        tasks: list[asyncio.Future[None]] = []
        if self.health is not None:
            tasks.append(self._start(self.health, stop_workers))
        tasks += [self._start(r, stop_workers) for r, leader in self._runnables if not leader]
        elector_task = None
        leader_runnables = [r for r, leader in self._runnables if leader]
        try:
            if self.elector is not None:
                elector_task = asyncio.ensure_future(self.elector.run(stop_elector))
                await self._until_leading_or_stopped()
            if not self._stop.is_set():
                tasks += [self._start(r, stop_workers) for r in leader_runnables]
                waits: set[asyncio.Future[object]] = {asyncio.ensure_future(self._stop.wait())}
                if self.elector is not None:
                    waits.add(asyncio.ensure_future(self.elector.lost.wait()))
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waits:
                    waiter.cancel()
        finally:
            for signum in signals:
                loop.remove_signal_handler(signum)
            stop_workers.set()
            await self._gather(tasks)
            stop_informers.set()
            await self._gather(informer_tasks)
            stop_elector.set()
            if elector_task is not None:
                await self._gather([elector_task])
        if self.elector is not None and self.elector.lost.is_set():
            log.error("manager %s stopped: leadership lost", self.settings.name)

    async def _until_leading_or_stopped(self) -> None:
        assert self.elector is not None
        leading = asyncio.ensure_future(self.elector.leading.wait())
        stopped = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({leading, stopped}, return_when=asyncio.FIRST_COMPLETED)
        leading.cancel()
        stopped.cancel()

    @staticmethod
    async def _gather(tasks: Sequence[asyncio.Future[None]]) -> None:
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("runnable failed: %r", result)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0)
