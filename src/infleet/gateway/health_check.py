"""Active health checks: GET /health on every replica at a sub-second interval; a replica that fails
`unhealthy_after` checks in a row stops receiving traffic until it passes `healthy_after` again,
unless too few of its model's replicas pass for the checks to be trusted (see `panic`).
With the defaults (0.5 s interval, 0.5 s timeout, 1 failure) a dead replica is out within a second,
and one that answers again is back within one interval (also when a refused connection cooled it down).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from infleet.gateway.config import HealthConfig
from infleet.gateway.replica import Replica
from infleet.gateway.transport import Transport, UpstreamError, read_body
from infleet.kube.clock import Clock, SystemClock


class HealthChecker:
    def __init__(
        self,
        transport: Transport,
        replicas: Callable[[], list[Replica]],
        config: HealthConfig,
        on_change: Callable[[Replica], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._transport = transport
        self._replicas = replicas
        self.config = config
        self._on_change = on_change
        self._clock = clock or SystemClock()

    async def probe(self, replica: Replica) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.timeout
        path = (replica.origin.base_path.removesuffix("/v1") + self.config.path).encode()
        try:
            response = await self._transport.send(replica.origin, b"GET", path, [], (), deadline, deadline)
            try:
                await read_body(response, deadline)
            finally:
                response.close()
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
