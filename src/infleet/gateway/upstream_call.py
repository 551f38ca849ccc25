"""One attempt at a request on one replica: send it upstream, then either hand back a retryable
`Failure` (no answer, or 429/5xx, before any byte reached the client) or relay the answer, a
buffered body or an SSE stream as it arrives. Records the result with outlier detection and keeps
the replica's in-flight count. Called by the retry policy for every attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from infleet.gateway.admission import AdmissionQueue
from infleet.gateway.config import GatewayConfig
from infleet.gateway.exchange import Exchange, Failure, Outcome
from infleet.gateway.outlier import OutlierDetector
from infleet.gateway.replica import PrefillTicket, Replica
from infleet.gateway.request_body import usage_from_json
from infleet.gateway.stream_relay import relay_stream
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

RETRYABLE = frozenset((429, 500, 502, 503, 504))
_HOP_BY_HOP = frozenset(
    (b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"date", b"server", b"upgrade")
)


def forwardable(headers: Headers) -> Headers:
    """The upstream's headers less those that describe its own connection or framing."""
    return [(k, v) for k, v in headers if k not in _HOP_BY_HOP]


class UpstreamCall:
    def __init__(
        self,
        transport: Transport,
        outlier: OutlierDetector,
        admission: AdmissionQueue,
        now: Callable[[], float],
        config: GatewayConfig,
    ) -> None:
        self.transport = transport
        self.outlier = outlier
        self.admission = admission
        self.config = config  # swapped with the configuration; timeouts are read per attempt
        self._now = now

    async def attempt(self, exchange: Exchange, replica: Replica, body: Body) -> Outcome | Failure:
        replica.outstanding += 1
        sent_at = self._now()
        ticket = PrefillTicket(replica, self._now, exchange.prefill_work)
        response: UpstreamResponse | None = None
        try:
            try:
                response = await self._send(exchange, replica, body)
                status = response.status
                # Error answers are read whole so they can be retried; streams are relayed as they come.
                buffered = status in RETRYABLE or not (exchange.body.stream and status == 200)
                data = await read_body(response, exchange.deadline) if buffered else b""
                upstream_time = self._now() - sent_at if buffered else 0.0
            except UpstreamError as exc:
                connect_error = isinstance(exc, UpstreamConnectError)
                self.outlier.failure(replica, self._now(), connect_error=connect_error)
                return Failure(
                    504 if isinstance(exc, UpstreamTimeoutError) else 502, self._describe(replica, exc)
                )
            if status in RETRYABLE:
                self.outlier.failure(replica, self._now(), status=status)
                return Failure(status, f"upstream {replica.name} answered {status}", data, response.headers)
            self.outlier.success(replica)
            if buffered:
                return await self._relay_body(exchange, replica, response, data, upstream_time)
            return await self._relay_stream(exchange, replica, response, sent_at, ticket)
        finally:
            if response is not None:
                response.close()
            ticket.close()
            replica.outstanding -= 1
            if len(self.admission):
                self.admission.notify()

    async def _send(self, exchange: Exchange, replica: Replica, body: Body) -> UpstreamResponse:
        timeouts = self.config.timeouts
        origin = replica.origin
        base = origin.base_path
        path = exchange.path
        # A base URL ending in /v1 already holds the version the client's path starts with.
        upstream_path = base + path[3:] if base.endswith("/v1") and path.startswith("/v1/") else base + path
        headers: Headers = [(b"content-type", b"application/json"), exchange.request_id_header]
        if replica.auth_header is not None:
            headers.append((b"authorization", replica.auth_header))
        now = asyncio.get_running_loop().time()
        deadline = exchange.deadline
        return await self.transport.send(
            origin,
            b"POST",
            upstream_path.encode(),
            headers,
            body,
            min(deadline, now + timeouts.connect),
            min(deadline, now + timeouts.first_token),
        )

    async def _relay_body(
        self,
        exchange: Exchange,
        replica: Replica,
        response: UpstreamResponse,
        data: bytes,
        upstream_time: float,
    ) -> Outcome:
        if exchange.rename is not None and response.status == 200:
            data = exchange.rename.body(data)
        overhead = self._now() - exchange.started - upstream_time
        headers = self._response_headers(exchange, response, replica, overhead)
        headers.append((b"content-length", str(len(data)).encode()))
        send = exchange.send
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": data})
        usage = usage_from_json(data) if response.status == 200 else None
        return Outcome(response.status, replica.name, usage, None, overhead)

    async def _relay_stream(
        self,
        exchange: Exchange,
        replica: Replica,
        response: UpstreamResponse,
        sent_at: float,
        ticket: PrefillTicket,
    ) -> Outcome:
        upstream_wait = self._now() - sent_at
        overhead = self._now() - exchange.started - upstream_wait
        headers = self._response_headers(exchange, response, replica, overhead)
        await exchange.send({"type": "http.response.start", "status": 200, "headers": headers})
        relayed = await relay_stream(
            response,
            exchange.send,
            replica.name,
            exchange.started,
            exchange.deadline,
            self.config.keepalive_interval,
            self._now,
            exchange.rename,
            ticket.first_byte,
        )
        return Outcome(200, replica.name, relayed.usage, relayed.ttft, overhead)

    def _describe(self, replica: Replica, error: UpstreamError) -> str:
        """What the client is told about a failed attempt: the replica's name and what went wrong;
        the upstream's address and the error's text only in debug mode (they are internal)."""
        if self.config.debug:
            return f"upstream {replica.name} ({replica.origin}) failed: {error}"
        if isinstance(error, UpstreamTimeoutError):
            what = "timed out"
        elif isinstance(error, UpstreamConnectError):
            what = "could not be reached"
        else:
            what = "failed before it answered"
        return f"upstream {replica.name} {what}"

    @staticmethod
    def _response_headers(
        exchange: Exchange, response: UpstreamResponse, replica: Replica, overhead: float
    ) -> Headers:
        headers = forwardable(response.headers)
        headers.append(exchange.request_id_header)
        headers.append((b"x-infleet-backend", replica.name.encode()))
        headers.append((b"x-infleet-overhead-ms", b"%.3f" % (overhead * 1000)))
        return headers
