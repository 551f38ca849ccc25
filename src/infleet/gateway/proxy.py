"""The request path of an inference call: read and check the request, apply its key's and model's
limits, hand it to the retry policy (which picks replicas, retries and falls back; each attempt is an
`UpstreamCall`), answer for the gateway when no upstream did, then record metrics, tokens, the span
and the access-log line. Called by the ASGI app for every inference path.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any

from infleet.gateway.access_log import AccessLog
from infleet.gateway.admission import PRIORITIES, AdmissionGate, AdmissionQueue, Refusal
from infleet.gateway.auth import KeyStore, Principal
from infleet.gateway.cache_feedback import settle_claim
from infleet.gateway.config import GatewayConfig
from infleet.gateway.errors import send_error
from infleet.gateway.exchange import Exchange, Failure, Outcome
from infleet.gateway.limits import Limiter, LimitPlan
from infleet.gateway.metrics import GatewayMetrics
from infleet.gateway.outlier import OutlierDetector
from infleet.gateway.panic import PanicMonitor
from infleet.gateway.region_pin import no_replica_message
from infleet.gateway.request_body import BadRequestError, RequestBody, parse_body
from infleet.gateway.retry_budget import RetryBudget
from infleet.gateway.retry_policy import RetryPolicy
from infleet.gateway.routing_table import ModelRoute, RoutingTable
from infleet.gateway.tracing import Tracer
from infleet.gateway.transport import Transport
from infleet.gateway.upstream_call import UpstreamCall, forwardable
from infleet.gateway.wake_queue import Unavailable, WakeQueue
from infleet.kube.clock import Clock, SystemClock

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

MAX_BODY = 64 << 20
# What a client's x-request-id may be: the printable token characters, at most 128 of them.
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:/+=@-]{1,128}")
_RETRY_SOON = (b"retry-after", b"1")


class Proxy:
    def __init__(
        self,
        config: GatewayConfig,
        table: RoutingTable,
        transport: Transport,
        limiter: Limiter,
        keys: KeyStore,
        metrics: GatewayMetrics,
        access_log: AccessLog | None = None,
        tracer: Tracer | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        # Bound once: the request path reads the monotonic clock several times per request.
        self._now = self.clock.now
        self.transport = transport
        self.limiter = limiter
        self.metrics = metrics
        self.access_log = access_log
        self.tracer = tracer or Tracer()
        self.outlier = OutlierDetector(config.outlier)
        self.admission = AdmissionQueue(config.admission.queue_size)
        self.gate = AdmissionGate(self.admission, self._now, config)
        budget = RetryBudget(config.retries.budget_ratio, config.retries.budget_min_per_second, self._now)
        self.panic = PanicMonitor(config.health.panic_threshold, metrics)
        self.retries = RetryPolicy(self.gate, budget, metrics, self._now, config.retries.attempts, self.panic)
        self.upstream = UpstreamCall(transport, self.outlier, self.admission, self._now, config)
        self.wakes: WakeQueue | None = None  # set by the app: holds requests for models scaled to zero
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex()
        self.apply(config, table, keys)

    def apply(self, config: GatewayConfig, table: RoutingTable, keys: KeyStore) -> None:
        """Swaps configuration; requests in flight keep the objects they already hold."""
        self.config = config
        self.table = table
        self.keys = keys
        self.outlier.config = config.outlier
        self.gate.configure(config)
        self.retries.attempts = config.retries.attempts
        self.upstream.config = config
        self.panic.threshold = config.health.panic_threshold
        self.panic.evaluate(table)

    async def handle(self, scope: dict[str, Any], receive: Receive, send: Send, principal: Principal) -> None:
        request_id, priority, region = self._read_headers(scope["headers"], principal)
        rid_header = (b"x-request-id", request_id.encode())
        try:
            async with asyncio.timeout(self.config.server.body_timeout):
                raw = await _receive_body(receive, send, rid_header)
        except TimeoutError:
            message = f"the request body did not arrive within {self.config.server.body_timeout:g} s"
            await send_error(send, 408, message, headers=[rid_header, (b"connection", b"close")])
            return
        if raw is None:
            return
        # Timing starts with a complete request: receiving the body is the client's and the network's time.
        started = self._now()
        try:
            body = parse_body(raw)
        except BadRequestError as exc:
            await send_error(send, 400, str(exc), headers=[rid_header])
            return
        table = self.table
        route = await self._permitted_route(table, body, principal, send, rid_header)
        if route is None:
            return
        exchange = Exchange(
            request_id=request_id,
            request_id_header=rid_header,
            principal=principal,
            priority=priority,
            region=region,
            path=scope["path"],
            body=body,
            route=route,
            table=table,
            started=started,
            send=send,
            adapter=body.model if body.model in route.adapters else None,
        )
        plan = limit_plan(principal, route)
        if plan and not await self._within_limits(exchange, plan):
            return
        span = (
            self.tracer.start("gateway.request", {"gen_ai.request.model": body.model})
            if self.tracer.enabled
            else None
        )
        outcome: Outcome | None = None
        try:
            outcome = await self._serve(exchange, receive)
        finally:
            await self._finish(exchange, plan, outcome, span)

    def _read_headers(
        self, headers: list[tuple[bytes, bytes]], principal: Principal
    ) -> tuple[str, str, str | None]:
        """The request id, priority and preferred region of a request.

        A client's request id is kept when it is a short token, and replaced by one of the gateway's
        otherwise (it is echoed and logged); the priority asked for is lowered to the key's highest.
        """
        request_id = priority = region = None
        for name, value in headers:
            if name == b"x-request-id":
                request_id = value.decode("latin-1") if _REQUEST_ID.fullmatch(value) else None
            elif name == b"x-infleet-priority":
                priority = value.decode("latin-1")
            elif name == b"x-infleet-region":
                region = value.decode("latin-1")
        if request_id is None:
            request_id = f"{self._id_prefix}-{next(self._ids)}"
        if priority not in PRIORITIES:
            priority = "standard"
        if PRIORITIES[priority] < PRIORITIES[principal.priority]:
            priority = principal.priority
        return request_id, priority, region or principal.home_region

    async def _permitted_route(
        self,
        table: RoutingTable,
        body: RequestBody,
        principal: Principal,
        send: Send,
        rid_header: tuple[bytes, bytes],
    ) -> ModelRoute | None:
        """The route of the model asked for, or None once 404 (unknown) or 403 (not allowed) was sent."""
        route = table.lookup(body.model)
        if route is None:
            self.metrics.rejections.labels("model_not_found").inc()
            known = ", ".join(sorted(r.name for r in table.models()))
            message = f"model {body.model!r} is not served here; use one of: {known}"
            await send_error(send, 404, message, "model_not_found", [rid_header])
            return None
        if not principal.admin and not (principal.may_use(body.model) or principal.may_use(route.name)):
            self.metrics.rejections.labels("model_not_allowed").inc()
            message = f"key {principal.name!r} may not use model {body.model!r}"
            await send_error(send, 403, message, headers=[rid_header])
            return None
        return route

    async def _within_limits(self, exchange: Exchange, plan: LimitPlan) -> bool:
        """Counts the request against its limits; False once 429 was sent and logged."""
        denial = await self.limiter.acquire(plan)
        if denial is None:
            return True
        self.metrics.rejections.labels("rate_limited").inc()
        headers = [exchange.request_id_header, (b"retry-after", str(int(denial.retry_after)).encode())]
        await send_error(exchange.send, 429, denial.message, "rate_limit_exceeded", headers)
        self._log(exchange, Outcome(429, "", None, None, 0.0))
        return False

    async def _serve(self, exchange: Exchange, receive: Receive) -> Outcome:
        if not exchange.route.replicas and exchange.route.wake and self.wakes is not None:
            held = await self.wakes.hold(exchange.route, receive)  # scaled to zero: wait for a wake
            if not isinstance(held, ModelRoute):
                return await self._unavailable(exchange, held)
            exchange.route, exchange.table = held, self.table
        loop_time = asyncio.get_running_loop().time
        exchange.deadline = loop_time() + self.config.timeouts.total
        result = await self.retries.run(exchange, self.upstream.attempt)
        if isinstance(result, Outcome):
            return result
        if isinstance(result, Refusal):
            return await self._refuse(exchange, result)
        return await self._fail(exchange, result)

    async def _refuse(self, exchange: Exchange, refusal: Refusal) -> Outcome:
        self.metrics.rejections.labels(refusal.reason).inc()
        headers = [exchange.request_id_header, _RETRY_SOON]
        await send_error(exchange.send, 429, refusal.message, "saturated", headers)
        return Outcome(429, "", None, None, self._now() - exchange.started)

    async def _unavailable(self, exchange: Exchange, held: Unavailable | None) -> Outcome:
        """Answers a request the wake queue let go: 503, or nothing to a client that left (499)."""
        elapsed = self._now() - exchange.started
        if held is None:
            return Outcome(499, "", None, None, elapsed)
        self.metrics.rejections.labels(held.reason).inc()
        headers = [exchange.request_id_header, (b"retry-after", str(held.retry_after).encode())]
        await send_error(exchange.send, 503, held.message, held.reason, headers)
        return Outcome(503, "", None, None, elapsed)

    async def _fail(self, exchange: Exchange, failure: Failure | None) -> Outcome:
        """Answers for the gateway when no attempt succeeded: 503 if none could be made, else the last
        failure, relaying the upstream's own answer when there is one."""
        overhead = self._now() - exchange.started
        send, rid = exchange.send, exchange.request_id_header
        if failure is None:
            self.metrics.rejections.labels("no_replica").inc()
            message = no_replica_message(exchange.route, exchange.principal)
            await send_error(send, 503, message, "no_replica", [rid, _RETRY_SOON])
            return Outcome(503, "", None, None, overhead)
        if failure.body and failure.headers is not None:
            headers = forwardable(failure.headers)
            headers += [rid, (b"content-length", str(len(failure.body)).encode())]
            await send({"type": "http.response.start", "status": failure.status, "headers": headers})
            await send({"type": "http.response.body", "body": failure.body})
        else:
            await send_error(send, failure.status, failure.message, headers=[rid])
        return Outcome(failure.status, "", None, None, overhead)

    async def _finish(self, exchange: Exchange, plan: LimitPlan, outcome: Outcome | None, span: Any) -> None:
        """Releases limits and records the request; an outcome of None means the request path raised."""
        if plan:
            await self.limiter.release(plan)
        model = exchange.route.name
        elapsed = self._now() - exchange.started
        if outcome is None:
            outcome = Outcome(500, "", None, None, elapsed)
        self.metrics.observe(model, outcome.backend, outcome.status, elapsed, outcome.overhead)
        if outcome.usage:
            if exchange.cache_claim is not None:
                settle_claim(exchange.cache_claim, outcome.usage, self.metrics)
            tokens = self.metrics.count_tokens(model, outcome.usage)
            if plan.tpm:
                await self.limiter.charge_tokens(plan, tokens)
        if outcome.ttft is not None:
            self.metrics.observe_ttft(model, outcome.ttft)
        if span is not None:
            span.set_attribute("http.status_code", outcome.status)
            span.set_attribute("infleet.backend", outcome.backend)
            span.end()
        self._log(exchange, outcome)

    def _log(self, exchange: Exchange, outcome: Outcome) -> None:
        if self.access_log is None:
            return
        record = {
            "ts": self.clock.wall(),
            "request_id": exchange.request_id,
            "key": exchange.principal.name,
            "model": exchange.body.model,
            "backend": outcome.backend,
            "status": outcome.status,
            "priority": exchange.priority,
            "duration_ms": round((self._now() - exchange.started) * 1000, 3),
            "overhead_ms": round(outcome.overhead * 1000, 3),
        }
        usage = outcome.usage
        if usage:
            record["prompt_tokens"] = usage.get("prompt_tokens")
            record["completion_tokens"] = usage.get("completion_tokens")
        self.access_log.write(record)


async def _receive_body(receive: Receive, send: Send, rid_header: tuple[bytes, bytes]) -> bytes | None:
    """The whole request body; None if the client left or the body is over MAX_BODY (413 sent)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            await send_error(send, 413, f"request body is larger than {MAX_BODY} bytes", headers=[rid_header])
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def limit_plan(principal: Principal, route: ModelRoute) -> LimitPlan:
    """The counters a request of `principal` to `route` touches; none for the master key."""
    if principal.admin:
        return LimitPlan()
    rpm, tpm, par = [], [], []
    if principal.rpm is not None:
        rpm.append((f"rpm:key:{principal.name}", principal.rpm))
    if principal.tpm is not None:
        tpm.append((f"tpm:key:{principal.name}", principal.tpm))
    if principal.max_parallel is not None:
        par.append((f"par:key:{principal.name}", principal.max_parallel))
    if route.rpm is not None:
        rpm.append((f"rpm:model:{route.name}", route.rpm))
    if route.tpm is not None:
        tpm.append((f"tpm:model:{route.name}", route.tpm))
    return LimitPlan(tuple(rpm), tuple(tpm), tuple(par))
