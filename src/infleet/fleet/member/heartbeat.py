"""The member agent's heartbeat: a Runnable writing the InternalMemberCluster status while joined.

It beats every ``spec.heartbeatPeriodSeconds`` (with jitter, so a thousand members do not write in step)
and, unlike KubeFleet, also soon after the member's capacity changes (node or pod events, at most once per
``min_interval``): the hub schedules on fresh GPU counts. A failed write is retried with backoff while the
member keeps running what it has. Clock and randomness are injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass, field
from typing import Any

import httpx2

from infleet.api.catalog import Catalog
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import INTERNAL_MEMBER_CLUSTER
from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FLEX_NODE_CLASS
from infleet.api.karpenter_sh.v1.node_pool import NODE_POOL
from infleet.api.provisionable import provisionable_gpus
from infleet.fleet.member.imc_status import Report, apply_report
from infleet.fleet.member.membership import JOIN, internal_member_cluster, state
from infleet.fleet.member.properties import ClusterProperties, cluster_properties
from infleet.kube.api_error import KubeAPIError
from infleet.kube.backoff import ExponentialBackoff
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.informer import Informer, InformerEvent
from infleet.kube.status_patch import patch_status

log = logging.getLogger(__name__)

_WRITE_ERRORS = (KubeAPIError, httpx2.HTTPError, OSError)


@dataclass
class HeartbeatSettings:
    jitter: float = 0.05
    #: The shortest gap between two writes caused by capacity changes (the debounce).
    min_interval: float = 1.0
    #: The member API server's health endpoint (the Healthy condition).
    probe_path: str = "/readyz"
    retry: ExponentialBackoff = field(default_factory=lambda: ExponentialBackoff(0.2, 30.0))


@dataclass
class _Beat:
    """Where the loop stands: the next periodic beat, the last write, and what it reported."""

    next_beat: float | None = None
    last_write: float | None = None
    last_properties: ClusterProperties | None = None
    failures: int = 0
    #: After a failed write, nothing is written before this (events must not defeat the backoff).
    retry_at: float = 0.0
    left_reported: bool = False


class Heartbeat:
    """Reports the member's health and properties into ``fleet-member-<member>`` on the hub."""

    def __init__(
        self,
        hub: ClusterClient,
        member: ClusterClient,
        member_name: str,
        informers: tuple[Informer, Informer, Informer],
        catalog: Catalog,
        clock: Clock,
        rng: random.Random,
        settings: HeartbeatSettings | None = None,
    ) -> None:
        self.hub, self.member, self.member_name = hub, member, member_name
        self.imcs, self.nodes, self.pods = informers
        self.catalog, self.clock, self.rng = catalog, clock, rng
        self.settings = settings or HeartbeatSettings()
        self.beats = 0
        self._beat = _Beat()
        self._dirty = False
        self._wake = asyncio.Event()
        self.imcs.add_handler(self._on_membership)
        self.nodes.add_handler(self._on_capacity)
        self.pods.add_handler(self._on_capacity)

    def _on_membership(self, event: InformerEvent) -> None:
        self._wake.set()

    def _on_capacity(self, event: InformerEvent) -> None:
        self._dirty = True
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        for informer in (self.imcs, self.nodes, self.pods):
            await self._until(informer.wait_synced(), stop)
        while not stop.is_set():
            delay = await self.step()
            await self._until(self._sleep_or_wake(delay), stop)

    @staticmethod
    async def _until(awaitable: Any, stop: asyncio.Event) -> None:
        task = asyncio.ensure_future(awaitable)
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for pending in (task, stopper):
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending

    async def _sleep_or_wake(self, delay: float | None) -> None:
        if delay is None:
            await self._wake.wait()
        else:
            await self._until(self.clock.sleep(delay), self._wake)
        self._wake.clear()

    async def step(self) -> float | None:
        """Write what is due; the seconds until something else is due (None: until an event)."""
        if self.clock.now() < self._beat.retry_at:
            return self._beat.retry_at - self.clock.now()
        imc = internal_member_cluster(self.imcs.store, self.member_name)
        current = state(imc)
        if imc is None or current != JOIN:
            if imc is not None and not self._beat.left_reported:
                return await self._write(
                    imc, Report(False, self.clock.wall(), _generation(imc)), leaving=True
                )
            return None
        beat = self._beat
        beat.left_reported = False
        now = self.clock.now()
        if beat.next_beat is None or now >= beat.next_beat:
            return await self._periodic(imc)
        if self._dirty:
            return await self._on_change(imc, now)
        return beat.next_beat - now

    async def _periodic(self, imc: dict[str, Any]) -> float | None:
        self._dirty = False
        healthy, message = await self._probe()
        properties, error = await self._collect()
        report = Report(True, self.clock.wall(), _generation(imc), healthy, message, properties, error)
        return await self._write(imc, report, periodic=True)

    async def _on_change(self, imc: dict[str, Any], now: float) -> float | None:
        beat = self._beat
        assert beat.next_beat is not None
        if beat.last_write is not None and now < beat.last_write + self.settings.min_interval:
            return beat.last_write + self.settings.min_interval - now
        self._dirty = False
        properties, _ = await self._collect()  # a failure is reported by the next periodic beat
        if properties is None or properties == beat.last_properties:
            return beat.next_beat - now
        return await self._write(
            imc, Report(True, self.clock.wall(), _generation(imc), properties=properties)
        )

    async def _probe(self) -> tuple[bool, str]:
        try:
            await self.member.probe(self.settings.probe_path)
        except Exception as error:  # every failure to answer is the verdict, not a crash of the agent
            return False, f"GET {self.settings.probe_path} on the member API server failed: {error}"
        return True, f"GET {self.settings.probe_path} answered ok"

    async def _collect(self) -> tuple[ClusterProperties | None, str]:
        provisionable = await self._provisionable()
        try:
            nodes, pods = self.nodes.store.list(), self.pods.store.list()
            return cluster_properties(nodes, pods, self.catalog, provisionable), ""
        except (ValueError, KeyError, ArithmeticError) as error:
            return None, f"collecting properties from nodes and pods failed: {error}"

    async def _provisionable(self) -> dict[str, int]:
        """What the member's NodePools could still add per SKU; none where no compute layer runs.

        Listed at each report rather than cached by informers: a cluster without the compute CRDs
        must not make the agent retry watches forever, and pools change far less often than pods."""
        try:
            pools = (await self.member.list(NODE_POOL)).items
            classes = (await self.member.list(FLEX_NODE_CLASS)).items if pools else []
        except (KubeAPIError, httpx2.HTTPError, OSError):
            return {}
        return provisionable_gpus(pools, classes, self.catalog)

    async def _write(
        self, imc: dict[str, Any], report: Report, periodic: bool = False, leaving: bool = False
    ) -> float | None:
        beat = self._beat
        try:
            await patch_status(self.hub, INTERNAL_MEMBER_CLUSTER, imc, lambda s: apply_report(s, report))
        except _WRITE_ERRORS as error:
            beat.failures += 1
            self._dirty = self._dirty or not periodic
            delay = self.settings.retry.delay(beat.failures)
            beat.retry_at = self.clock.now() + delay
            log.warning(
                "member %s: heartbeat to the hub failed (%s); retrying in %.1fs",
                self.member_name,
                error,
                delay,
            )
            return delay
        beat.failures = 0
        beat.last_write = now = self.clock.now()
        self.beats += 1
        if leaving:
            beat.left_reported = True
            return None
        if report.properties is not None:
            beat.last_properties = report.properties
        if periodic:
            beat.next_beat = now + self._period(imc)
        assert beat.next_beat is not None
        return max(0.0, beat.next_beat - now)

    def _period(self, imc: dict[str, Any]) -> float:
        period = float((imc.get("spec") or {}).get("heartbeatPeriodSeconds") or 60)
        return period * (1.0 + self.settings.jitter * (2.0 * self.rng.random() - 1.0))


def _generation(imc: dict[str, Any]) -> int | None:
    generation = (imc.get("metadata") or {}).get("generation")
    return int(generation) if generation is not None else None
