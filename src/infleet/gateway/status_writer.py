"""Writes the status of the ModelRoutes and GatewayKeys a gateway reads, through the status subresource,
in the cluster it discovers from (a hub's for the global gateway, a member's for a per-cluster one).

One writer per cluster: every gateway reading a cluster campaigns for the Lease
``default/infleet-gateway-status`` there, and only its holder writes, so replicas of a gateway do not
fight over conditions; another takes over when it goes. Writes are merge patches of what changed (none
when nothing did), retried on conflict, and repeated when an object's status is changed by anyone else.
Started by the app when it runs with fleet discovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from typing import Any

import httpx2

from infleet.api.gateway_aitoolchain_io.v1alpha1.gateway_key import GATEWAY_KEY
from infleet.api.gateway_aitoolchain_io.v1alpha1.model_route import MODEL_ROUTE
from infleet.api.resource_kind import ResourceKind
from infleet.gateway.fleet_discovery import FleetDiscovery
from infleet.gateway.object_status import StatusMutation
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.informer import InformerEvent
from infleet.kube.leader_election import LeaderElectionSettings, LeaderElector
from infleet.kube.status_patch import patch_status

log = logging.getLogger("infleet.gateway")

LEASE_NAME = "infleet-gateway-status"
LEASE_NAMESPACE = "default"
_RETRY_AFTER = 1.0  # seconds before writes that failed are tried again

# The informer (by discovery's name for it) that holds each kind's objects.
_INFORMERS = {MODEL_ROUTE.kind: "routes", GATEWAY_KEY.kind: "keys"}
ObjectKey = tuple[str, str, str]  # (kind, namespace, name)


def gateway_identity() -> str:
    """Unique per gateway process and instance, as client-go's identities are."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class StatusWriter:
    def __init__(
        self,
        discovery: FleetDiscovery,
        clock: Clock | None = None,
        lease: LeaderElectionSettings | None = None,
    ) -> None:
        self.discovery = discovery
        self.client: ClusterClient = discovery.client
        self.clock = clock or SystemClock()
        self.lease = lease or LeaderElectionSettings(
            LEASE_NAME, gateway_identity(), namespace=LEASE_NAMESPACE
        )
        self.desired: dict[ObjectKey, StatusMutation] = {}
        self.elector: LeaderElector | None = None
        self._changed = asyncio.Event()
        for name in _INFORMERS.values():
            discovery.watch(name, self.on_event)

    def update(self, desired: dict[ObjectKey, StatusMutation]) -> None:
        """The status every object should have; written soon if this gateway holds the lease."""
        self.desired = desired
        self._changed.set()

    def on_event(self, event: InformerEvent) -> None:
        """A ModelRoute or GatewayKey changed (its status too, perhaps by someone else): check again."""
        self._changed.set()

    @property
    def leading(self) -> bool:
        return self.elector is not None and self.elector.leading.is_set()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Campaign for the lease, write while holding it, campaign again if it is lost."""
        stop = stop or asyncio.Event()
        # A cluster without ModelRoutes or GatewayKeys gets no Lease from the gateway.
        while not self.desired and not stop.is_set():
            self._changed.clear()
            await _first(self._changed.wait(), stop.wait())
        while not stop.is_set():
            self.elector = LeaderElector(self.client, self.lease, self.clock)
            campaign = asyncio.create_task(self.elector.run(stop))
            try:
                await self._write_while_leading(self.elector, stop)
            finally:
                if not campaign.done():
                    stop.set()  # cancelled: release the lease on the way out
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await asyncio.wait_for(campaign, 5.0)
                    campaign.cancel()

    async def _write_while_leading(self, elector: LeaderElector, stop: asyncio.Event) -> None:
        lost_or_stopped = (elector.lost, stop)
        await _first(elector.leading.wait(), *(e.wait() for e in lost_or_stopped))
        while elector.leading.is_set() and not stop.is_set():
            self._changed.clear()
            if not await self._write_all():
                self._retry_later(_RETRY_AFTER)
            await _first(self._changed.wait(), *(e.wait() for e in lost_or_stopped))

    def _retry_later(self, seconds: float) -> None:
        async def later() -> None:
            await self.clock.sleep(seconds)
            self._changed.set()

        task = asyncio.ensure_future(later())
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _write_all(self) -> bool:
        """Writes every status that differs; False when some write failed (tried again later)."""
        ok = True
        for (kind, namespace, name), mutate in list(self.desired.items()):
            informer = self.discovery.informers.get(_INFORMERS[kind])
            obj = informer.store.get(name, namespace) if informer is not None else None
            if obj is None:
                continue  # deleted since, or not seen yet: its event brings it back here
            try:
                await patch_status(self.client, _kind(kind), obj, mutate)
            except KubeAPIError as exc:
                if exc.not_found:
                    continue
                log.warning("cannot write the status of %s %s/%s: %s", kind, namespace, name, exc)
                ok = False
            except httpx2.HTTPError as exc:
                log.warning("cannot write the status of %s %s/%s: %s", kind, namespace, name, exc)
                ok = False
        return ok


def _kind(kind: str) -> ResourceKind:
    return MODEL_ROUTE if kind == MODEL_ROUTE.kind else GATEWAY_KEY


async def _first(*waits: Any) -> None:
    """Waits until the first of several awaitables completes and cancels the rest."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
