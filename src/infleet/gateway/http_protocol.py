"""The gateway's HTTP/1.1 connections: uvicorn's httptools protocol with the two bounds it lacks.

uvicorn times out idle kept-alive connections, but a client that connects and sends its headers
slowly (or never) holds a connection for as long as it likes, before any key is checked. Here a
connection must deliver each request's headers within ``header_timeout`` of connecting or of starting
the request, or it gets 408 and is closed; and past ``max_connections`` open connections a new one
gets 503 with Retry-After and is closed at once. Used by `server.serve`; the body timeout is the
proxy's, since the body is read by the app.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def _plain_response(status: bytes, message: bytes, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 "
        + status
        + b"\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
        + extra
        + b"content-length: %d\r\n\r\n" % len(message)
        + message
    )


_TOO_SLOW = _plain_response(b"408 Request Timeout", b"the request headers did not arrive in time")
_OVER_CAPACITY = _plain_response(
    b"503 Service Unavailable", b"the gateway has too many open connections", b"retry-after: 1\r\n"
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """Set the bounds with :func:`guarded_protocol`; the class attributes are its defaults."""

    header_timeout = 10.0
    max_connections = 8192
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.write(_OVER_CAPACITY)
            transport.close()
            return
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:  # a further request on a kept-alive connection
            self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.write(_TOO_SLOW)
            self.transport.close()


def guarded_protocol(header_timeout: float, max_connections: int) -> type[GuardedHttpToolsProtocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` with these bounds."""
    return type(
        "GatewayHttpProtocol",
        (GuardedHttpToolsProtocol,),
        {"header_timeout": header_timeout, "max_connections": max_connections},
    )
