"""Relays an upstream SSE stream to the client chunk by chunk as it arrives (no buffering), writes a
keep-alive comment whenever the upstream stays silent for `keepalive` seconds so idle timeouts of
load balancers do not cut long prefills, and reports errors in-band once bytes were sent.
Called by the proxy after the upstream answered 200 to a streaming request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from infleet.gateway.errors import error_body
from infleet.gateway.model_rename import ModelRename
from infleet.gateway.request_body import usage_from_sse_tail
from infleet.gateway.transport import UpstreamError, UpstreamResponse

Send = Callable[[dict[str, Any]], Awaitable[None]]

_KEEPALIVE = {"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True}
_TAIL = 4096  # the usage chunk and [DONE] end every stream; only the tail is kept to read usage
_DONE = b"data: [DONE]"


@dataclass(slots=True)
class StreamResult:
    usage: dict[str, Any] | None
    ttft: float | None  # seconds from `started` to the first upstream byte relayed


async def send_stream_error(send: Send, status: int, message: str) -> None:
    """The status line is gone already, so the error travels as a data event, then [DONE]."""
    event = b"data: " + error_body(status, message) + b"\n\ndata: [DONE]\n\n"
    await send({"type": "http.response.body", "body": event})


async def _finish(send: Send, upstream: str, tail: bytes, rest: bytes) -> None:
    """Ends the relayed stream: cleanly after its [DONE]; with an error event when the upstream closed
    before its last event (an engine or its node went away), so no client takes a cut answer for whole."""
    if _DONE in tail + rest:
        await send({"type": "http.response.body", "body": rest})
        return
    if rest:
        await send({"type": "http.response.body", "body": rest, "more_body": True})
    await send_stream_error(send, 502, f"upstream {upstream} ended the stream before it finished")


async def relay_stream(
    response: UpstreamResponse,
    send: Send,
    upstream: str,
    started: float,
    deadline: float,
    keepalive: float,
    now: Callable[[], float],
    rename: ModelRename | None = None,
    on_first: Callable[[], None] | None = None,
) -> StreamResult:
    """Relays until the upstream ends; `started` is a reading of `now`, the clock TTFT is measured on.
    `on_first` is called when the first upstream byte arrives."""
    loop = asyncio.get_running_loop()
    tail = b""
    ttft: float | None = None
    while True:
        try:
            chunk = await response.next_chunk(min(deadline, loop.time() + keepalive))
        except UpstreamError as exc:
            await send_stream_error(send, 502, f"upstream {upstream} failed mid-stream: {exc}")
            return StreamResult(usage_from_sse_tail(tail), ttft)
        if chunk is None:
            if loop.time() >= deadline:
                await send_stream_error(send, 504, "stream exceeded the gateway's total timeout")
                return StreamResult(usage_from_sse_tail(tail), ttft)
            await send(_KEEPALIVE)
            continue
        if not chunk:
            await _finish(send, upstream, tail, rename.rest() if rename is not None else b"")
            return StreamResult(usage_from_sse_tail(tail), ttft)
        if ttft is None:
            ttft = now() - started
            if on_first is not None:
                on_first()
        if rename is not None:
            chunk = rename.chunk(chunk)
            if not chunk:
                continue
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        tail = (tail + chunk)[-_TAIL:] if len(chunk) < _TAIL else chunk[-_TAIL:]
