"""exec and attach over SPDY/3.1 streams: the ``remotecommand`` protocols of clients that predate WebSocket.

The client opens one stream per purpose, named by its ``streamtype`` header: ``error`` (the closing
``Status``), ``stdin``, ``stdout``, ``stderr`` and, under a terminal, ``resize`` (JSON sizes, read and
dropped: a simulated shell has no screen to redraw). Each is answered with SYN_REPLY, and the command
starts once every stream the request asked for is open, as the kubelet waits for them (30 s at most).
Stdin ends with the client's FIN on its stream; the session ends with the Status on the error stream and
FIN on every stream. The stream protocol versions differ in two places: v4 (and v5, which over SPDY is
v4) write the Status as JSON, older ones only a failure's message; v1 and v2 have no resize stream.

The SPDY bytes arrive in the messages of the WebSocket the API server relays (subprotocol
``SPDY/3.1+<version>``), the way kubectl's port-forward tunnels its SPDY session.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from infleet.sim.channel_session import ERROR, RESIZE, STDERR, STDIN, STDOUT, Writer, terminal_output
from infleet.sim.spdy_frames import (
    Data,
    Frame,
    GoAway,
    Ping,
    RstStream,
    SpdyDecoder,
    SpdyEncoder,
    SpdyProtocolError,
    SynStream,
)

SPDY_PREFIX = "SPDY/3.1+"
_JSON_STATUS_VERSIONS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
_RESIZE_VERSIONS = (*_JSON_STATUS_VERSIONS, "v3.channel.k8s.io")
SPDY_CHANNEL_PROTOCOLS = tuple(
    SPDY_PREFIX + version for version in (*_RESIZE_VERSIONS, "v2.channel.k8s.io", "channel.k8s.io")
)
STREAM_CREATION_TIMEOUT = 30.0
_CHUNK = 32 * 1024
_STREAM_TYPES = {"stdin": STDIN, "stdout": STDOUT, "stderr": STDERR, "error": ERROR, "resize": RESIZE}


class SpdyRemoteCommand:
    """One exec or attach session whose streams are SPDY/3.1 streams inside a WebSocket."""

    def __init__(
        self, websocket: WebSocket, protocol: str, *, stdin: bool, stdout: bool, stderr: bool, tty: bool
    ) -> None:
        version = protocol.removeprefix(SPDY_PREFIX)
        self.websocket, self.tty = websocket, tty
        self.stdin: asyncio.Queue[bytes | None] | None = asyncio.Queue() if stdin else None
        self._json_status = version in _JSON_STATUS_VERSIONS
        wanted = {ERROR: True, STDIN: stdin, STDOUT: stdout, STDERR: stderr and not tty}
        wanted[RESIZE] = tty and version in _RESIZE_VERSIONS
        self._expected = {channel for channel, wants in wanted.items() if wants}
        self._streams: dict[int, int] = {}  # channel -> stream id
        self._channels: dict[int, int] = {}  # stream id -> channel
        self._decoder, self._encoder = SpdyDecoder(), SpdyEncoder()
        self._send_lock = asyncio.Lock()
        self._all_open = asyncio.Event()

    async def _send(self, frame: bytes) -> None:
        async with self._send_lock:
            await self.websocket.send_bytes(frame)

    # -- the client's side ------------------------------------------------------------------------

    async def read_client(self) -> None:
        """Frames from the client until it leaves; a protocol error closes the WebSocket."""
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                for frame in self._decoder.feed(message.get("bytes") or b""):
                    if not await self._handle(frame):
                        return
        except SpdyProtocolError as error:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await self.websocket.close(1002, str(error)[:120])
        finally:
            self._end_stdin()

    async def _handle(self, frame: Frame) -> bool:
        """Act on one frame; False once the client says it is going away."""
        if isinstance(frame, SynStream):
            await self._open(frame)
        elif isinstance(frame, Data):
            if self._channels.get(frame.stream_id) == STDIN and self.stdin is not None:
                if frame.data:
                    self.stdin.put_nowait(frame.data)
                if frame.fin:
                    self._end_stdin()
        elif isinstance(frame, RstStream):
            if self._channels.get(frame.stream_id) == STDIN:
                self._end_stdin()
        elif isinstance(frame, Ping) and frame.ping_id % 2 == 1:  # odd ids are the client's own pings
            await self._send(self._encoder.ping(frame.ping_id))
        elif isinstance(frame, GoAway):
            return False
        return True

    async def _open(self, frame: SynStream) -> None:
        # Under the send lock: header blocks share one compression context, so order matters.
        async with self._send_lock:
            await self.websocket.send_bytes(self._encoder.syn_reply(frame.stream_id))
        channel = _STREAM_TYPES.get((frame.headers.get("streamtype") or [""])[0])
        if channel is not None and channel not in self._streams:
            self._streams[channel] = frame.stream_id
            self._channels[frame.stream_id] = channel
            if self._expected <= self._streams.keys():
                self._all_open.set()

    def _end_stdin(self) -> None:
        if self.stdin is not None:
            self.stdin.put_nowait(None)

    # -- the command's side -------------------------------------------------------------------------

    async def ready(self) -> bool:
        try:
            await asyncio.wait_for(self._all_open.wait(), STREAM_CREATION_TIMEOUT)
        except TimeoutError:
            return False
        return True

    def writer(self, channel: int) -> Writer:
        async def write(data: bytes) -> None:
            stream = self._streams.get(channel)
            if not data or stream is None:
                return
            data = terminal_output(data, self.tty)
            for start in range(0, len(data), _CHUNK):
                await self._send(self._encoder.data(stream, data[start : start + _CHUNK]))

        return write

    def _status_bytes(self, status: dict[str, Any]) -> bytes:
        if self._json_status:
            return orjson.dumps(status)
        # Before v4 the error stream carries only a failure's message, and nothing on success.
        return b"" if status.get("status") == "Success" else str(status.get("message") or "").encode()

    async def finish(self, status: dict[str, Any]) -> None:
        error_stream = self._streams.get(ERROR)
        if error_stream is not None and (payload := self._status_bytes(status)):
            await self._send(self._encoder.data(error_stream, payload))
        for stream in self._channels:
            await self._send(self._encoder.data(stream, b"", fin=True))
        await self.websocket.close(1000)
