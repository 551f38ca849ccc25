"""Leader election on a ``coordination.k8s.io/v1`` Lease, as client-go's leaderelection does it.

A candidate acquires the Lease when it is free, released, or expired, renews it every ``retry_period``,
and gives it up after failing to renew for ``renew_deadline``. Expiry is judged on the local clock from
when this candidate last saw the record change (not from the holder's timestamps), so clock skew between
machines cannot hand the lease to two holders. The Manager runs one elector; leader-only runnables start
while :attr:`LeaderElector.leading` is set.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx2

from infleet.api.kubernetes import LEASE
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient

log = logging.getLogger(__name__)


@dataclass
class LeaderElectionSettings:
    lease_name: str
    identity: str
    namespace: str = "default"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_stop: bool = True

    def validate(self) -> None:
        if not self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                f"leader election for lease {self.lease_name!r}: need retry_period < renew_deadline < "
                f"lease_duration, got {self.retry_period} / {self.renew_deadline} / {self.lease_duration}"
            )


def _micro_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Campaigns for one Lease; ``leading`` is set while this identity holds it, ``lost`` once it lost it."""

    def __init__(
        self, client: ClusterClient, settings: LeaderElectionSettings, clock: Clock | None = None
    ) -> None:
        settings.validate()
        self.client = client
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.leading = asyncio.Event()
        self.lost = asyncio.Event()
        self._observed: dict[str, Any] | None = None
        self._observed_at = 0.0

    @property
    def identity(self) -> str:
        return self.settings.identity

    async def run(self, stop: asyncio.Event) -> None:
        """Acquire, then renew until ``stop`` (then release) or until renewing fails (then set ``lost``)."""
        settings = self.settings
        while not self.leading.is_set():
            if await self._try_acquire_or_renew():
                self.leading.set()
                log.info(
                    "%s became leader of lease %s/%s", self.identity, settings.namespace, settings.lease_name
                )
            elif await self._stopped_within(stop, settings.retry_period):
                return
        last_renew = self.clock.now()
        while not await self._stopped_within(stop, settings.retry_period):
            if await self._try_acquire_or_renew():
                last_renew = self.clock.now()
            elif self.clock.now() - last_renew >= settings.renew_deadline:
                log.error("%s lost lease %s/%s", self.identity, settings.namespace, settings.lease_name)
                self.leading.clear()
                self.lost.set()
                return
        if settings.release_on_stop:
            await self._release()
        self.leading.clear()

    async def _stopped_within(self, stop: asyncio.Event, seconds: float) -> bool:
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        sleeper.cancel()
        stopper.cancel()
        return stop.is_set()

    def _spec(self, previous: dict[str, Any] | None) -> dict[str, Any]:
        """The record this candidate writes; taking the lease from anyone else (or from a release) counts
        as a transition, as in client-go."""
        now = _micro_time(self.clock.wall())
        held = previous is not None and previous.get("holderIdentity") == self.identity
        transitions = int((previous or {}).get("leaseTransitions") or 0)
        if previous is not None and not held:
            transitions += 1
        previous = previous or {}
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.settings.lease_duration)),
            "acquireTime": previous.get("acquireTime") if held else now,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    async def _try_acquire_or_renew(self) -> bool:
        settings = self.settings
        try:
            try:
                lease = await self.client.get(LEASE, settings.lease_name, settings.namespace)
            except KubeAPIError as error:
                if not error.not_found:
                    raise
                spec = self._spec(None)
                body = {
                    "apiVersion": LEASE.api_version,
                    "kind": LEASE.kind,
                    "metadata": {"name": settings.lease_name, "namespace": settings.namespace},
                    "spec": spec,
                }
                await self.client.create(LEASE, body)
                self._observe(spec)
                return True
            current: dict[str, Any] = lease.get("spec") or {}
            self._observe(current)
            holder = current.get("holderIdentity")
            expired = self.clock.now() >= self._observed_at + float(current.get("leaseDurationSeconds") or 0)
            if holder and holder != self.identity and not expired:
                return False
            lease["spec"] = self._spec(current)
            updated = await self.client.replace(LEASE, lease)
            self._observe(updated.get("spec") or {})
            return True
        except (KubeAPIError, httpx2.HTTPError, OSError) as error:
            # A conflict means another candidate wrote first; anything else is retried next period.
            log.debug("%s: lease %s not acquired: %s", self.identity, settings.lease_name, error)
            return False

    def _observe(self, spec: dict[str, Any]) -> None:
        if spec != self._observed:
            self._observed = dict(spec)
            self._observed_at = self.clock.now()

    async def _release(self) -> None:
        settings = self.settings
        try:
            lease = await self.client.get(LEASE, settings.lease_name, settings.namespace)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            # client-go's release: empty holder and a 1 s duration so others acquire at once.
            lease["spec"] = {**spec, "holderIdentity": "", "leaseDurationSeconds": 1}
            await self.client.replace(LEASE, lease)
        except (KubeAPIError, httpx2.HTTPError, OSError) as error:
            log.warning("%s: could not release lease %s: %s", self.identity, settings.lease_name, error)
