"""The request path of an inference call: authenticate, limit, schedule, forward with retries and
fallbacks before the first byte, then relay the answer (streams byte for byte as they arrive, with SSE
keep-alive comments while the upstream is silent). Called by the ASGI app for every inference path.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from infleet.gateway.access_log import AccessLog
from infleet.gateway.admission import AdmissionQueue
from infleet.gateway.auth import KeyStore, Principal
from infleet.gateway.config import GatewayConfig
from infleet.gateway.errors import send_error
from infleet.gateway.limits import Limiter, LimitPlan
from infleet.gateway.metrics import GatewayMetrics
from infleet.gateway.outlier import OutlierDetector
from infleet.gateway.replica import Replica
from infleet.gateway.request_body import (
    BadRequestError,
    RequestBody,
    parse_body,
    usage_from_json,
)
from infleet.gateway.retry_budget import RetryBudget
from infleet.gateway.routing_table import ModelRoute, RoutingTable, fallback_chain
from infleet.gateway.stream_relay import relay_stream
from infleet.gateway.tracing import Tracer
from infleet.gateway.transport import (
    Body,
    Headers,
    Transport,
    UpstreamConnectError,
    UpstreamError,
    UpstreamResponse,
    UpstreamTimeoutError,
    read_body,
)
from infleet.kube.clock import Clock, SystemClock
from infleet.scheduling.routing import RoutingRequest, SaturationPolicy

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

MAX_BODY = 64 << 20
_RETRYABLE = frozenset((429, 500, 502, 503, 504))
_HOP_BY_HOP = frozenset(
    (b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"date", b"server", b"upgrade")
)


@dataclass(slots=True)
class _Failure:
    """An attempt that may be retried elsewhere, kept to answer with if it is the last one."""

    status: int
    message: str
    body: bytes = b""
    headers: Headers | None = None


@dataclass(slots=True)
class _Outcome:
    status: int
    backend: str
    usage: dict[str, Any] | None
    ttft: float | None
    overhead: float


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
        self.budget = RetryBudget(
            config.retries.budget_ratio, config.retries.budget_min_per_second, self._now
        )
        self.admission = AdmissionQueue(config.admission.queue_size)
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex()
        self.apply(config, table, keys)

    def apply(self, config: GatewayConfig, table: RoutingTable, keys: KeyStore) -> None:
        """Swaps configuration; requests in flight keep the objects they already hold."""
        self.config = config
        self.table = table
        self.keys = keys
        self.outlier.config = config.outlier
        self.admission.capacity = config.admission.queue_size
        self.saturation = SaturationPolicy(
            config.admission.queue_threshold, config.admission.kv_threshold, config.scrape.stale_after
        )

    async def handle(self, scope: dict[str, Any], receive: Receive, send: Send, principal: Principal) -> None:  # noqa: C901
        request_id = priority = region = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"x-infleet-priority":
                priority = value.decode("latin-1")
            elif name == b"x-infleet-region":
                region = value.decode("latin-1")
        if request_id is None:
            request_id = f"{self._id_prefix}-{next(self._ids)}"
        rid_header = (b"x-request-id", request_id.encode())
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                await send_error(
                    send, 413, f"request body is larger than {MAX_BODY} bytes", headers=[rid_header]
                )
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        # Timing starts with a complete request: receiving the body is the client's and the network's time.
        started = self._now()
        try:
            body = parse_body(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        except BadRequestError as exc:
            await send_error(send, 400, str(exc), headers=[rid_header])
            return
        table = self.table
        route = table.lookup(body.model)
        if route is None:
            self.metrics.rejections.labels("model_not_found").inc()
            known = ", ".join(sorted(r.name for r in table.models()))
            await send_error(
                send,
                404,
                f"model {body.model!r} is not served here; use one of: {known}",
                "model_not_found",
                [rid_header],
            )
            return
        if not principal.admin and not (principal.may_use(body.model) or principal.may_use(route.name)):
            self.metrics.rejections.labels("model_not_allowed").inc()
            await send_error(
                send, 403, f"key {principal.name!r} may not use model {body.model!r}", headers=[rid_header]
            )
            return
        priority = priority if priority in ("critical", "standard", "sheddable") else "standard"
        plan = self._plan(principal, route)
        if plan:
            denial = await self.limiter.acquire(plan)
            if denial is not None:
                self.metrics.rejections.labels("rate_limited").inc()
                headers = [rid_header, (b"retry-after", str(int(denial.retry_after)).encode())]
                await send_error(send, 429, denial.message, "rate_limit_exceeded", headers)
                self._log(request_id, body.model, "", 429, started, 0.0, None, principal, priority)
                return
        span = (
            self.tracer.start("gateway.request", {"gen_ai.request.model": body.model})
            if self.tracer.enabled
            else None
        )
        outcome: _Outcome | None = None
        try:
            outcome = await self._serve(
                scope["path"], body, route, table, priority, region, rid_header, started, send
            )
        finally:
            if plan:
                await self.limiter.release(plan)
            status = outcome.status if outcome else 500
            backend = outcome.backend if outcome else ""
            elapsed = self._now() - started
            overhead = outcome.overhead if outcome else elapsed
            self.metrics.observe(route.name, backend, status, elapsed, overhead)
            usage = outcome.usage if outcome else None
            if usage:
                tokens = self.metrics.count_tokens(route.name, usage)
                if plan.tpm:
                    await self.limiter.charge_tokens(plan, tokens)
            if outcome and outcome.ttft is not None:
                self.metrics.observe_ttft(route.name, outcome.ttft)
            if span is not None:
                span.set_attribute("http.status_code", status)
                span.set_attribute("infleet.backend", backend)
                span.end()
            self._log(request_id, body.model, backend, status, started, overhead, usage, principal, priority)

    def _plan(self, principal: Principal, route: ModelRoute) -> LimitPlan:
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

    async def _serve(  # noqa: C901
        self,
        path: str,
        body: RequestBody,
        route: ModelRoute,
        table: RoutingTable,
        priority: str,
        region: str | None,
        rid_header: tuple[bytes, bytes],
        started: float,
        send: Send,
    ) -> _Outcome:
        loop = asyncio.get_running_loop()
        timeouts = self.config.timeouts
        deadline = loop.time() + timeouts.total
        self.budget.deposit()
        adapter = body.model if body.model in route.adapters else None
        attempts_left = self.config.retries.attempts
        failure: _Failure | None = None
        tried: set[int] = set()
        for n, candidate_route in enumerate(fallback_chain(table, route)):
            rreq = RoutingRequest(
                model=candidate_route.name,
                now=self._now(),
                adapter=adapter if n == 0 else None,
                region=region,
                allowed_regions=candidate_route.allowed_regions,
                prefix=body.prefix(candidate_route.name)
                if candidate_route.capabilities.needs_prompt_hashes
                else (),
                priority=priority,
            )
            decision = candidate_route.profile.schedule(rreq, candidate_route.replicas)
            if n == 0:
                while not decision.ranked and candidate_route.capabilities.saturated(decision.rejected):
                    if priority == "sheddable" or not await self.admission.wait(
                        priority, min(self.config.admission.queue_timeout, deadline - loop.time())
                    ):
                        self.metrics.rejections.labels("saturated").inc()
                        await send_error(
                            send,
                            429,
                            f"every replica of {route.name!r} is saturated; retry later",
                            "saturated",
                            [rid_header, (b"retry-after", b"1")],
                        )
                        return _Outcome(429, "", None, None, self._now() - started)
                    rreq.now = self._now()
                    decision = candidate_route.profile.schedule(rreq, candidate_route.replicas)
                if (
                    priority == "sheddable"
                    and decision.ranked
                    and all(self.saturation.saturated(r, rreq.now) for r in decision.ranked)
                ):
                    self.metrics.rejections.labels("shed").inc()
                    headers = [rid_header, (b"retry-after", b"1")]
                    await send_error(send, 429, "shed: replicas are saturated", "saturated", headers)
                    return _Outcome(429, "", None, None, self._now() - started)
            for endpoint in decision.ranked:
                replica: Replica = endpoint  # type: ignore[assignment]
                if id(replica) in tried:
                    continue
                if tried:
                    if not self.budget.try_withdraw():
                        break
                    self.metrics.retries.labels(route.name).inc()
                tried.add(id(replica))
                upstream_body = [body.raw] if adapter and n == 0 else body.with_model(replica.upstream_model)
                candidate_route.profile.reserve(rreq, endpoint)
                result = await self._attempt(
                    path, body, upstream_body, replica, route.name, rid_header, started, deadline, send
                )
                if isinstance(result, _Outcome):
                    if n > 0:
                        self.metrics.fallbacks.labels(route.name, candidate_route.name).inc()
                    return result
                failure = result
                attempts_left -= 1
                if attempts_left <= 0 or loop.time() >= deadline:
                    break
            if attempts_left <= 0 or loop.time() >= deadline:
                break
        return await self._fail(failure, route, rid_header, started, send)

    async def _fail(
        self,
        failure: _Failure | None,
        route: ModelRoute,
        rid: tuple[bytes, bytes],
        started: float,
        send: Send,
    ) -> _Outcome:
        overhead = self._now() - started
        if failure is None:
            self.metrics.rejections.labels("no_replica").inc()
            await send_error(
                send, 503, f"no healthy replica can serve {route.name!r} now", "no_replica", [rid]
            )
            return _Outcome(503, "", None, None, overhead)
        if failure.body and failure.headers is not None:  # relay the upstream's own answer
            headers = [(k, v) for k, v in failure.headers if k not in _HOP_BY_HOP]
            headers += [rid, (b"content-length", str(len(failure.body)).encode())]
            await send({"type": "http.response.start", "status": failure.status, "headers": headers})
            await send({"type": "http.response.body", "body": failure.body})
        else:
            await send_error(send, failure.status, failure.message, headers=[rid])
        return _Outcome(failure.status, "", None, None, overhead)

    async def _attempt(
        self,
        path: str,
        body: RequestBody,
        upstream_body: Body,
        replica: Replica,
        model: str,
        rid: tuple[bytes, bytes],
        started: float,
        deadline: float,
        send: Send,
    ) -> _Outcome | _Failure:
        loop = asyncio.get_running_loop()
        timeouts = self.config.timeouts
        origin = replica.origin
        base = origin.base_path
        upath = (
            base + path[3:] if base.endswith("/v1") and path.startswith("/v1/") else base + path
        ).encode()
        headers: Headers = [(b"content-type", b"application/json"), rid]
        if replica.auth_header is not None:
            headers.append((b"authorization", replica.auth_header))
        replica.outstanding += 1
        sent_at = self._now()
        response: UpstreamResponse | None = None
        try:
            now = loop.time()
            try:
                response = await self.transport.send(
                    origin,
                    b"POST",
                    upath,
                    headers,
                    upstream_body,
                    min(deadline, now + timeouts.connect),
                    min(deadline, now + timeouts.first_token),
                )
                status = response.status
                if status in _RETRYABLE or not (body.stream and status == 200):
                    data = await read_body(response, deadline)
                    upstream_time = self._now() - sent_at
            except UpstreamError as exc:
                self.outlier.failure(
                    replica, self._now(), connect_error=isinstance(exc, UpstreamConnectError)
                )
                return _Failure(504 if isinstance(exc, UpstreamTimeoutError) else 502, str(exc))
            if status in _RETRYABLE:
                self.outlier.failure(replica, self._now(), status=status)
                return _Failure(status, f"upstream {replica.name} answered {status}", data, response.headers)
            self.outlier.success(replica)
            if not (body.stream and status == 200):
                overhead = self._now() - started - upstream_time
                out = self._response_headers(response.headers, rid, replica, overhead)
                out.append((b"content-length", str(len(data)).encode()))
                await send({"type": "http.response.start", "status": status, "headers": out})
                await send({"type": "http.response.body", "body": data})
                usage = usage_from_json(data) if status == 200 else None
                return _Outcome(status, replica.name, usage, None, overhead)
            return await self._stream(response, replica, rid, started, sent_at, deadline, send)
        finally:
            if response is not None:
                response.close()
            replica.outstanding -= 1
            if len(self.admission):
                self.admission.notify()

    async def _stream(
        self,
        response: UpstreamResponse,
        replica: Replica,
        rid: tuple[bytes, bytes],
        started: float,
        sent_at: float,
        deadline: float,
        send: Send,
    ) -> _Outcome:
        upstream_wait = self._now() - sent_at
        overhead = self._now() - started - upstream_wait
        out = self._response_headers(response.headers, rid, replica, overhead)
        await send({"type": "http.response.start", "status": 200, "headers": out})
        relayed = await relay_stream(
            response, send, replica.name, started, deadline, self.config.keepalive_interval, self._now
        )
        return _Outcome(200, replica.name, relayed.usage, relayed.ttft, overhead)

    @staticmethod
    def _response_headers(
        upstream: Headers, rid: tuple[bytes, bytes], replica: Replica, overhead: float
    ) -> Headers:
        out = [(k, v) for k, v in upstream if k not in _HOP_BY_HOP]
        out.append(rid)
        out.append((b"x-infleet-backend", replica.name.encode()))
        out.append((b"x-infleet-overhead-ms", b"%.3f" % (overhead * 1000)))
        return out

    def _log(
        self,
        request_id: str,
        model: str,
        backend: str,
        status: int,
        started: float,
        overhead: float,
        usage: dict[str, Any] | None,
        principal: Principal,
        priority: str,
    ) -> None:
        if self.access_log is None:
            return
        record = {
            "ts": self.clock.wall(),
            "request_id": request_id,
            "key": principal.name,
            "model": model,
            "backend": backend,
            "status": status,
            "priority": priority,
            "duration_ms": round((self._now() - started) * 1000, 3),
            "overhead_ms": round(overhead * 1000, 3),
        }
        if usage:
            record["prompt_tokens"] = usage.get("prompt_tokens")
            record["completion_tokens"] = usage.get("completion_tokens")
        self.access_log.write(record)
