"""Active health checks: GET /health on every replica at a sub-second interval; a replica that fails
`unhealthy_after` checks in a row stops receiving traffic until it passes `healthy_after` again,
unless too few of its model's replicas pass for the checks to be trusted (see `panic`).
With the defaults (0.5 s interval, 0.5 s timeout, 1 failure) a dead replica is out within a second,
and one that answers again is back within one interval (also when a refused connection cooled it down).

A probe that timed out while the gateway's own event loop was late (a GC pause, a starved CPU) says
nothing about the replica: its verdict arrived well after the deadline, so the replica may have answered
in time unread. Such a probe is sent again at once; only a second late timeout counts as a failure, so a
loop that stays late cannot hide a hung replica for ever (panic routing covers that case).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from infleet.gateway.config import HealthConfig
from infleet.gateway.replica import Replica
from infleet.gateway.transport import Transport, UpstreamError, UpstreamTimeoutError, read_body
from infleet.kube.clock import Clock, SystemClock

# How far past its deadline a timeout may be noticed and still be trusted. On a loop that runs on time the
# timer fires within a millisecond or two of the deadline; 50 ms is far beyond that and far below the
# pauses that fail every probe of a round (hundreds of milliseconds).
LATE_VERDICT = 0.05


class HealthChecker:
    def __init__(
        self,
        transport: Transport,
        replicas: Callable[[], list[Replica]],
        config: HealthConfig,
        on_change: Callable[[Replica], None] | None = None,
        clock: Clock | None = None,
        on_late: Callable[[Replica], None] | None = None,
    ) -> None:
        self._transport = transport
        self._replicas = replicas
        self.config = config
        self._on_change = on_change
        self._on_late = on_late
        self._clock = clock or SystemClock()

    async def probe(self, replica: Replica) -> bool:
        """True if the replica answered 200 in time; a late timeout is probed once more before it counts."""
        verdict = await self._probe_once(replica)
        if verdict is None:
            if self._on_late is not None:
                self._on_late(replica)
            verdict = await self._probe_once(replica)
        return bool(verdict)

    async def _probe_once(self, replica: Replica) -> bool | None:
        """The probe's verdict, or None for a timeout noticed too late past its deadline to be trusted."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.timeout
        path = (replica.origin.base_path.removesuffix("/v1") + self.config.path).encode()
        try:
            response = await self._transport.send(replica.origin, b"GET", path, [], (), deadline, deadline)
            try:
                await read_body(response, deadline)
            finally:
                response.close()
        except UpstreamTimeoutError:
            return None if loop.time() - deadline > LATE_VERDICT else False
        except UpstreamError:
            return False
        return response.status == 200

    async def check(self, replica: Replica) -> None:
        ok = await self.probe(replica)
        before = replica.healthy
        if ok:
            replica.health_failures = 0
            replica.health_successes += 1
            if not replica.healthy and replica.health_successes >= self.config.healthy_after:
                replica.healthy = True
            if replica.unreachable and replica.healthy:
                # A cooldown for a refused connection ends when the replica answers again, not
                # seconds later: engines that come back take traffic within one probe interval.
                replica.cooldown_until = 0.0
                replica.unreachable = False
        else:
            replica.health_successes = 0
            replica.health_failures += 1
            if replica.health_failures >= self.config.unhealthy_after:
                replica.healthy = False
        if before != replica.healthy and self._on_change is not None:
            self._on_change(replica)

    async def run(self) -> None:
        while True:
            targets = [r for r in self._replicas() if not r.external]
            if targets:
                await asyncio.gather(*(self.check(r) for r in targets))
            await self._clock.sleep(self.config.interval)
