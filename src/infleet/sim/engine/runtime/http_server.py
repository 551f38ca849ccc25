"""A small HTTP/1.1 server for the simulated engines: httptools parsing, callbacks instead of tasks.

Written here rather than served by uvicorn because of what one hosting process must carry: thousands of
concurrent streams across many engines. Under ASGI every request is a task plus a disconnect watcher,
and every chunk is a task step, a message dict and a framework ``send``; at 2,000 streams that overhead
cost more CPU than the socket writes themselves and was most of the time to first token the host added.
Here a handler is a plain function called once the request is complete, and a streaming response is
written from the engine's step callback straight into the transport.

What it speaks: HTTP/1.1 keep-alive (and 1.0), pipelined requests answered in order, chunked and
fixed-length request bodies, ``Expect: 100-continue``, HEAD, chunked or fixed-length responses,
idle keep-alive timeout. Malformed or oversized requests get a 400/413 and the connection closes.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import cast

import httptools
import orjson

log = logging.getLogger(__name__)

Headers = list[tuple[bytes, bytes]]

# A 128k-token prompt is well under 1 MiB of text and a batch of token ids a few MiB; past this the
# request is refused before it is buffered.
MAX_BODY_BYTES = 16 << 20
MAX_HEAD_BYTES = 64 << 10
KEEP_ALIVE_TIMEOUT_S = 5.0  # uvicorn's default, which is what `vllm serve` runs with
_MAX_PIPELINED = 64  # requests queued behind an unfinished response before reading pauses

_STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode() for s in HTTPStatus}


def status_line(status: int) -> bytes:
    return _STATUS_LINES.get(status) or f"HTTP/1.1 {status} Unknown\r\n".encode()


@dataclass(slots=True)
class Request:
    """A complete request: header names lower-cased, the body read in full."""

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes

    def header(self, name: bytes) -> str | None:
        """The first value of header ``name`` (lower-case), or None."""
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None


class Response:
    """The way a handler answers one request: at once (``send``) or as a chunked stream.

    Calls after the connection is gone are ignored; ``on_close`` tells a streaming handler that its
    client left before the response ended (so it can abort the work behind it)."""

    __slots__ = ("_connection", "_head_only", "_keep_alive", "closed", "finished", "on_close", "started")

    def __init__(self, connection: HttpConnection, *, keep_alive: bool, head_only: bool) -> None:
        self._connection = connection
        self._keep_alive = keep_alive
        self._head_only = head_only
        self.started = False
        self.finished = False
        self.closed = False
        self.on_close: Callable[[], None] | None = None

    def _head(self, status: int, headers: Headers, framing: bytes) -> bytes:
        lines = [status_line(status)]
        for name, value in headers:
            lines += (name, b": ", value, b"\r\n")
        lines.append(framing)
        if not self._keep_alive:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)

    def send(self, status: int, body: bytes, headers: Headers) -> None:
        """The whole response, with a content-length."""
        if self.started or self.closed:
            return
        self.started = True
        head = self._head(status, headers, b"content-length: %d\r\n" % len(body))
        self._connection.write(head if self._head_only else head + body)
        self._finish()

    def start(self, status: int, headers: Headers) -> None:
        """Send the head of a chunked response; the body follows through ``write`` and ``end``."""
        if self.started or self.closed:
            return
        self.started = True
        self._connection.write(self._head(status, headers, b"transfer-encoding: chunked\r\n"))

    def write(self, data: bytes) -> None:
        """One chunk of a started response (empty data is skipped: it would end the body)."""
        if self.closed or self.finished or not data or self._head_only:
            return
        self._connection.write(b"%x\r\n%b\r\n" % (len(data), data))

    def end(self, data: bytes = b"") -> None:
        """The last chunk (if any) and the terminator."""
        if self.closed or self.finished:
            return
        if self._head_only:
            self._finish()
            return
        tail = b"%x\r\n%b\r\n0\r\n\r\n" % (len(data), data) if data else b"0\r\n\r\n"
        self._connection.write(tail)
        self._finish()

    def _finish(self) -> None:
        self.finished = True
        self.on_close = None
        self._connection.response_done(self._keep_alive)

    def lost(self) -> None:
        """The connection dropped before this response ended."""
        self.closed = True
        callback, self.on_close = self.on_close, None
        if callback is not None and not self.finished:
            callback()


Handler = Callable[[Request, Response], None]


class HttpConnection(asyncio.Protocol):
    """One client connection: parses requests and hands them to the handler one at a time."""

    def __init__(
        self,
        handler: Handler,
        *,
        keep_alive_timeout_s: float = KEEP_ALIVE_TIMEOUT_S,
        connections: set[HttpConnection] | None = None,
    ) -> None:
        """``connections``: a set the connection is in while it is open (its server's)."""
        self._handler = handler
        self._keep_alive_timeout_s = keep_alive_timeout_s
        self._connections = connections if connections is not None else set()
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._url = b""
        self._headers: Headers = []
        self._head_bytes = 0
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._pending: deque[tuple[Request, bool]] = deque()
        self._active: Response | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._reading_paused = False
        self.lost: asyncio.Future[None] = self._loop.create_future()

    # -- transport events ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, so this is a cast, not a check.
        self._transport = cast(asyncio.Transport, transport)
        self._connections.add(self)
        self._arm_idle_timer()

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(400, b"protocol upgrades are not supported")
        except httptools.HttpParserError as exc:
            # Errors raised in the parser's callbacks come back wrapped, the original as the context.
            cause = exc.__context__
            if isinstance(cause, _RequestTooLargeError):
                self._reject(cause.status, cause.message.encode())
            else:
                self._reject(400, f"malformed HTTP request: {exc}".encode())

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        if not self.lost.done():
            self.lost.set_result(None)
        self._cancel_idle_timer()
        self._transport = None
        self._pending.clear()
        active, self._active = self._active, None
        if active is not None:
            active.lost()

    def close(self) -> None:
        """Close after what was written is flushed."""
        if self._transport is not None:
            self._transport.close()

    def write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    # -- parser callbacks ----------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._cancel_idle_timer()
        self._url = b""
        self._headers = []
        self._head_bytes = 0
        self._body = []
        self._body_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))
        self._count_head(len(name) + len(value))

    def on_headers_complete(self) -> None:
        length = next((v for k, v in self._headers if k == b"content-length"), None)
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise _RequestTooLargeError(413, f"request body over {MAX_BODY_BYTES} bytes")
        expect = next((v for k, v in self._headers if k == b"expect"), None)
        if expect is not None and expect.lower() == b"100-continue" and self._active is None:
            self.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > MAX_BODY_BYTES:
            raise _RequestTooLargeError(413, f"request body over {MAX_BODY_BYTES} bytes")
        self._body.append(body)

    def on_message_complete(self) -> None:
        url = httptools.parse_url(self._url)
        request = Request(
            method=self._parser.get_method().decode("ascii", "replace"),
            path=url.path.decode("utf-8", "replace"),
            query=(url.query or b"").decode("utf-8", "replace"),
            headers=self._headers,
            body=b"".join(self._body),
        )
        keep_alive = bool(self._parser.should_keep_alive())
        if self._active is None and not self._pending:
            self._dispatch(request, keep_alive)
            return
        self._pending.append((request, keep_alive))
        if len(self._pending) >= _MAX_PIPELINED and self._transport is not None:
            self._transport.pause_reading()
            self._reading_paused = True

    # -- request lifecycle ---------------------------------------------------------------------------

    def _dispatch(self, request: Request, keep_alive: bool) -> None:
        response = Response(self, keep_alive=keep_alive, head_only=request.method == "HEAD")
        self._active = response
        try:
            self._handler(request, response)
        except Exception:
            log.exception("engine HTTP handler failed on %s %s", request.method, request.path)
            if not response.started:
                response.send(500, b"internal server error", [(b"content-type", b"text/plain")])
            elif self._transport is not None:
                self._transport.close()  # a half-sent stream cannot be repaired

    def response_done(self, keep_alive: bool) -> None:
        """Called by the active response once it is complete."""
        self._active = None
        if self._transport is None:
            return
        if not keep_alive:
            self._transport.close()
            return
        if self._pending:
            request, keep = self._pending.popleft()
            if self._reading_paused and len(self._pending) < _MAX_PIPELINED // 2:
                self._transport.resume_reading()
                self._reading_paused = False
            self._dispatch(request, keep)
            return
        self._arm_idle_timer()

    def _reject(self, status: int, message: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            return  # refused already: the parser fails again on whatever else arrives
        # vLLM's nested error shape, like every other error the engine answers.
        kind = "BadRequestError" if status < 500 else "InternalServerError"
        error = {"message": message.decode("utf-8", "replace"), "type": kind, "param": None, "code": status}
        body = orjson.dumps({"error": error})
        head = status_line(status) + b"content-type: application/json\r\nconnection: close\r\n"
        self._transport.write(head + b"content-length: %d\r\n\r\n%b" % (len(body), body))
        self._transport.close()

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            raise _RequestTooLargeError(431, f"request line and headers over {MAX_HEAD_BYTES} bytes")

    def _arm_idle_timer(self) -> None:
        self._cancel_idle_timer()
        self._idle_timer = self._loop.call_later(self._keep_alive_timeout_s, self._close_idle)

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _close_idle(self) -> None:
        self._idle_timer = None
        if self._transport is not None and self._active is None and not self._pending:
            self._transport.close()


class _RequestTooLargeError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class HttpServer:
    """A listening socket and its connections; ``close`` ends both (responses already written still flush)."""

    def __init__(self, handler: Handler, *, keep_alive_timeout_s: float = KEEP_ALIVE_TIMEOUT_S) -> None:
        self._handler = handler
        self._keep_alive_timeout_s = keep_alive_timeout_s
        self._server: asyncio.Server | None = None
        self.connections: set[HttpConnection] = set()

    async def listen(self, host: str, port: int, *, backlog: int = 4096) -> int:
        """Listen on ``host:port`` (0: any free port); returns the port.

        The socket is created here with ``IPPROTO_TCP`` because asyncio sets TCP_NODELAY on accepted
        connections only when the listener says TCP; without it small chunks wait on Nagle's algorithm."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._connection, sock=sock, backlog=backlog)
        return int(sock.getsockname()[1])

    def _connection(self) -> HttpConnection:
        return HttpConnection(
            self._handler, keep_alive_timeout_s=self._keep_alive_timeout_s, connections=self.connections
        )

    async def close(self, timeout_s: float = 1.0) -> None:
        """Stop listening and close every connection; returns once they are gone (or after the timeout),
        so a client's next request on a pooled connection sees it closed rather than racing the FIN."""
        if self._server is not None:
            self._server.close()
        closing = list(self.connections)
        for connection in closing:
            connection.close()
        if closing:
            await asyncio.wait([connection.lost for connection in closing], timeout=timeout_s)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
