"""The streams of one exec or attach session, as the kubelet's command side writes to and reads from them.

Two framings carry them: the channel protocol (``v5.channel.k8s.io``, ``v4.channel.k8s.io``) where every
WebSocket message starts with its channel, here; and SPDY/3.1 streams, in
:mod:`~infleet.sim.spdy_remote_command`. Both offer the same :class:`StreamSession`, so exec and attach
are written once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from starlette.websockets import WebSocket

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
Writer = Callable[[bytes], Awaitable[None]]


class StreamSession(Protocol):
    """What exec and attach need of a session, whichever framing carries it."""

    tty: bool
    stdin: asyncio.Queue[bytes | None] | None

    def writer(self, channel: int) -> Writer:
        """Writes to stdout or stderr (dropped when the client did not ask for that stream)."""
        ...

    async def read_client(self) -> None:
        """Reads the client until it leaves; stdin's end is queued as None."""
        ...

    async def ready(self) -> bool:
        """Whether every stream the client asked for is open, waiting for them if need be."""
        ...

    async def finish(self, status: dict[str, Any]) -> None:
        """Sends the closing ``Status`` and ends the session."""
        ...


def terminal_output(data: bytes, tty: bool) -> bytes:
    """A terminal's line discipline turns "\\n" into "\\r\\n"; a client in raw mode expects it."""
    return data.replace(b"\n", b"\r\n") if tty else data


class ChannelSession:
    """The channel framing of one exec or attach WebSocket."""

    def __init__(self, websocket: WebSocket, tty: bool, stdin: bool) -> None:
        self.websocket, self.tty = websocket, tty
        self.stdin: asyncio.Queue[bytes | None] | None = asyncio.Queue() if stdin else None

    async def send(self, channel: int, data: bytes) -> None:
        await self.websocket.send_bytes(bytes([channel]) + data)

    def writer(self, channel: int) -> Writer:
        async def write(data: bytes) -> None:
            if data:
                await self.send(channel, terminal_output(data, self.tty))

        return write

    async def ready(self) -> bool:
        return True  # every channel exists from the start

    async def finish(self, status: dict[str, Any]) -> None:
        await self.send(ERROR, orjson.dumps(status))
        await self.websocket.close(1000)

    async def read_client(self) -> None:
        """Client messages: stdin until its close (v5 channel 255) or the end of the connection."""
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("bytes") or b""
                if data[:1] == bytes([STDIN]) and self.stdin is not None and len(data) > 1:
                    self.stdin.put_nowait(data[1:])
                elif data[:2] == bytes([CLOSE, STDIN]) and self.stdin is not None:
                    self.stdin.put_nowait(None)
        finally:
            if self.stdin is not None:
                self.stdin.put_nowait(None)
