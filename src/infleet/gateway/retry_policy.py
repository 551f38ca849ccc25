"""Where a request goes, attempt by attempt: the ranked replicas of its model, then those of each
fallback model in order (health checks trusted unless the model is in panic, see `panic`). Each
replica is tried at most once; a retry needs a token from the retry budget; no attempt starts once
`retries.attempts` were made or the deadline passed. The admission gate may hold or refuse the
request before its first attempt. Decides only: the attempt itself is the caller's (see
`upstream_call`). Called by the proxy per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from infleet.gateway.admission import AdmissionGate, Refusal
from infleet.gateway.exchange import Exchange, Failure, Outcome
from infleet.gateway.metrics import GatewayMetrics
from infleet.gateway.model_rename import ModelRename
from infleet.gateway.panic import PanicMonitor
from infleet.gateway.region_pin import allowed_regions
from infleet.gateway.replica import Replica
from infleet.gateway.retry_budget import RetryBudget
from infleet.gateway.routing_table import ModelRoute, fallback_chain
from infleet.gateway.transport import Body
from infleet.scheduling.routing import Endpoint, RoutingRequest, uncached_prompt_bytes

Attempt = Callable[[Exchange, Replica, Body], Awaitable[Outcome | Failure]]


class RetryPolicy:
    def __init__(
        self,
        gate: AdmissionGate,
        budget: RetryBudget,
        metrics: GatewayMetrics,
        now: Callable[[], float],
        attempts: int,
        panic: PanicMonitor,
    ) -> None:
        self.gate = gate
        self.panic = panic
        self.budget = budget
        self.metrics = metrics
        self.attempts = attempts  # including the first; swapped with the configuration
        self._now = now

    async def run(self, exchange: Exchange, attempt: Attempt) -> Outcome | Refusal | Failure | None:
        """Makes attempts until one answers the client. Returns its outcome, the gate's refusal, the
        last failed attempt, or None when no replica could be tried at all."""
        self.budget.deposit()
        exchange.attempts_left = self.attempts
        for n, route in enumerate(fallback_chain(exchange.table, exchange.route)):
            routing = self._routing_request(exchange, route, first=n == 0)
            decision = route.profile.schedule(routing, route.replicas)
            if n == 0:
                admitted = await self.gate.admit(
                    route, routing, decision, exchange.priority, exchange.deadline
                )
                if isinstance(admitted, Refusal):
                    return admitted
                decision = admitted
            outcome = await self._try_ranked(exchange, route, routing, decision.ranked, attempt, n == 0)
            if outcome is not None:
                if n > 0:
                    self.metrics.fallbacks.labels(exchange.route.name, route.name).inc()
                return outcome
            if self._spent(exchange):
                break
        return exchange.failure

    def _routing_request(self, exchange: Exchange, route: ModelRoute, first: bool) -> RoutingRequest:
        panic = self.panic.check(route)
        if panic:
            self.metrics.panic_routed.labels(route.name).inc()
        return RoutingRequest(
            model=route.name,
            panic=panic,
            now=self._now(),
            adapter=exchange.adapter if first else None,  # fallback models do not carry the adapter
            region=exchange.region,
            allowed_regions=allowed_regions(route, exchange.principal),
            prefix=exchange.body.prefix(route.name) if route.capabilities.needs_prompt_hashes else (),
            priority=exchange.priority,
            prompt_bytes=len(exchange.body.raw),
        )

    async def _try_ranked(
        self,
        exchange: Exchange,
        route: ModelRoute,
        routing: RoutingRequest,
        ranked: list[Endpoint],
        attempt: Attempt,
        first: bool,
    ) -> Outcome | None:
        """Tries the replicas of one model in preference order; None when none of them answered."""
        body = exchange.body
        for endpoint in ranked:
            replica: Replica = endpoint  # type: ignore[assignment]
            if id(replica) in exchange.tried:
                continue
            if exchange.tried and not self._may_retry(exchange):
                break
            exchange.tried.add(id(replica))
            # An adapter is asked for by its own name, which the engine serves as it is.
            upstream_body: Body
            if exchange.adapter and first:
                upstream_body, exchange.rename = [body.raw], None
            else:
                upstream_body = body.with_model(replica.upstream_model)
                # A fallback answers under its own public name: the client asked for another model.
                asked = body.model if first else route.name
                exchange.rename = ModelRename.between(replica.model_field, replica.upstream_model, asked)
            routing.cache_claim = None
            route.profile.reserve(routing, endpoint)
            exchange.cache_claim = routing.cache_claim
            exchange.prefill_work = routing.prefill_work.get(replica.name) or uncached_prompt_bytes(
                routing.prompt_bytes, 0
            )
            result = await attempt(exchange, replica, upstream_body)
            if isinstance(result, Outcome):
                return result
            exchange.failure = result
            exchange.attempts_left -= 1
            if self._spent(exchange):
                break
        return None

    def _may_retry(self, exchange: Exchange) -> bool:
        if not self.budget.try_withdraw():
            return False
        self.metrics.retries.labels(exchange.route.name).inc()
        return True

    @staticmethod
    def _spent(exchange: Exchange) -> bool:
        return exchange.attempts_left <= 0 or asyncio.get_running_loop().time() >= exchange.deadline
