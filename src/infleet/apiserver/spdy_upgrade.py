"""An HTTP/1.1 ``Upgrade: SPDY/3.1`` request served to the ASGI application as a WebSocket of raw bytes.

Clients before kubectl 1.30 (and client libraries that never moved on) reach ``pods/exec``, ``attach`` and
``portforward`` by upgrading the connection to SPDY/3.1 and naming the stream protocols they speak in
``X-Stream-Protocol-Version``. ASGI has no way to hand a connection over, so the HTTP protocol passes such
a request here, and it reaches the application as a WebSocket session instead: the offered stream
protocols become the subprotocols ``SPDY/3.1+<protocol>``, every chunk the client sends becomes one
binary message, and every binary message the application sends is written as is. The application then
treats it like the WebSocket tunnels it already serves (kubectl's ``SPDY/3.1+portforward.k8s.io``):
checks, the kubelet relay and error answers are shared, and the SPDY session itself is the kubelet's.
Accepting the WebSocket answers ``101 Switching Protocols`` with the chosen ``X-Stream-Protocol-Version``;
a refusal (``websocket.http.response``) is written as the HTTP response it carries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import unquote

import httptools
from starlette.types import ASGIApp, Message

log = logging.getLogger(__name__)

UPGRADE_TOKEN = b"spdy/3.1"
# The WebSocket subprotocol that stands for the SPDY stream protocol after the plus sign.
TUNNEL_PREFIX = "SPDY/3.1+"
# scope["extensions"] key marking a session that is an SPDY upgrade; its value lists the offered protocols.
EXTENSION = "infleet.spdy_upgrade"
PROTOCOL_HEADER = b"x-stream-protocol-version"
_READ_HIGH_WATER = 1 << 20  # client bytes queued for the application before reading pauses


def offered_protocols(headers: list[tuple[bytes, bytes]]) -> list[str]:
    """The stream protocols of every ``X-Stream-Protocol-Version`` header, comma-separated or repeated."""
    values = (value.decode("latin-1") for name, value in headers if name == PROTOCOL_HEADER)
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


class SpdyUpgrade(asyncio.Protocol):
    """Owns one upgraded connection and runs the application on it as a WebSocket scope."""

    def __init__(
        self,
        app: ASGIApp,
        http_scope: dict[str, Any],
        connections: set[Any],
        tasks: set[asyncio.Task[None]],
    ) -> None:
        self._app = app
        self._connections, self._tasks = connections, tasks
        self._incoming: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._queued = 0
        self._transport: asyncio.Transport | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        self._accepted = self._answered = self._closed = False
        self._read_paused = False
        offered = offered_protocols(http_scope["headers"])
        scheme = "wss" if http_scope.get("scheme") == "https" else "ws"
        self.scope: dict[str, Any] = {
            **{key: http_scope[key] for key in ("asgi", "http_version", "server", "client", "root_path")},
            "type": "websocket",
            "scheme": scheme,
            "path": http_scope["path"],
            "raw_path": http_scope["raw_path"],
            "query_string": http_scope["query_string"],
            "headers": http_scope["headers"],
            "state": http_scope.get("state", {}),
            "subprotocols": [TUNNEL_PREFIX + protocol for protocol in offered],
            "extensions": {"websocket.http.response": {}, EXTENSION: {"offered": offered}},
        }

    # -- asyncio.Protocol ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # or uvicorn's wrapper of one
        self._connections.add(self)
        task = asyncio.get_running_loop().create_task(self._run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def data_received(self, data: bytes) -> None:
        self._incoming.put_nowait(data)
        self._queued += len(data)
        if self._queued > _READ_HIGH_WATER and not self._read_paused and self._transport is not None:
            self._read_paused = True
            self._transport.pause_reading()

    def eof_received(self) -> bool | None:
        self._incoming.put_nowait(None)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._connections.discard(self)
        self._incoming.put_nowait(None)
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def shutdown(self) -> None:
        """The server is stopping: end the session (uvicorn calls this on every connection)."""
        self._close()

    # -- the ASGI side ------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._app(self.scope, self._receive, self._send)
        except Exception:
            log.exception("SPDY upgrade of %s failed", self.scope["path"])
            if not self._accepted and not self._answered:
                self._write_response(500, [], b"an internal error occurred; see the server log")
        finally:
            if not self._accepted and not self._answered:
                self._write_response(500, [], b"the request was not answered")
            self._close()

    async def _receive(self) -> Message:
        if not self._accepted:
            return {"type": "websocket.connect"}
        chunk = await self._incoming.get()
        if chunk is None:
            self._incoming.put_nowait(None)  # every later receive sees the end too
            return {"type": "websocket.disconnect", "code": 1006}
        self._queued -= len(chunk)
        if self._read_paused and self._queued <= _READ_HIGH_WATER // 2 and self._transport is not None:
            self._read_paused = False
            self._transport.resume_reading()
        return {"type": "websocket.receive", "bytes": chunk}

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.accept":
            self._accept(message.get("subprotocol"))
        elif kind == "websocket.send":
            data = message.get("bytes")
            await self._write(data if data is not None else str(message.get("text") or "").encode())
        elif kind == "websocket.close":
            if not self._accepted and not self._answered:
                self._write_response(403, [], b"")  # ASGI: a close before accepting is a refusal
            self._close()
        elif kind == "websocket.http.response.start":
            self._write_head(message["status"], list(message.get("headers") or []))
        elif kind == "websocket.http.response.body":
            await self._write(message.get("body") or b"")
            if not message.get("more_body"):
                self._close()

    def _accept(self, subprotocol: str | None) -> None:
        protocol = (subprotocol or "").removeprefix(TUNNEL_PREFIX)
        head = [
            b"HTTP/1.1 101 Switching Protocols\r\n",
            b"Connection: Upgrade\r\n",
            b"Upgrade: SPDY/3.1\r\n",
        ]
        if protocol:
            head.append(b"X-Stream-Protocol-Version: " + protocol.encode("latin-1") + b"\r\n")
        self._accepted = True
        self._raw_write(b"".join(head) + b"\r\n")

    def _write_head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self._answered = True
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        lines = [f"HTTP/1.1 {status} {phrase}\r\n".encode()]
        lines += [name + b": " + value + b"\r\n" for name, value in headers if name.lower() != b"connection"]
        self._raw_write(b"".join(lines) + b"Connection: close\r\n\r\n")

    def _write_response(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        length = [(b"content-length", str(len(body)).encode())]
        self._write_head(status, [*headers, (b"content-type", b"text/plain; charset=utf-8"), *length])
        self._raw_write(body)

    async def _write(self, data: bytes) -> None:
        if self._closed:
            raise OSError("the client closed the connection")
        self._raw_write(data)
        await self._writable.wait()

    def _raw_write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing() and data:
            self._transport.write(data)

    def _close(self) -> None:
        self._closed = True
        if self._transport is not None:
            with contextlib.suppress(RuntimeError):
                self._transport.close()


def http_scope_of(url: bytes, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with the path, raw path and query string of the request target ``url``."""
    parsed = httptools.parse_url(url)
    raw_path: bytes = parsed.path
    root = str(base.get("root_path") or "")
    return {
        **base,
        "path": root + unquote(raw_path.decode("ascii")),
        "raw_path": root.encode("ascii") + raw_path,
        "query_string": parsed.query or b"",
    }
