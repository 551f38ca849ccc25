"""The server side of ``portforward.k8s.io`` over SPDY/3.1: each forwarded connection to a pod's port.

The client opens two streams per connection, both with headers ``streamtype`` (``error`` or ``data``),
``port`` and ``requestid``. Once the data stream arrives the server dials the port and copies bytes both
ways; a dial that fails writes its message to the error stream, which the client prints. Every stream is
answered with SYN_REPLY first (data before it is dropped by the client), and the streams are finished
with FIN once the pod's side closes. Pings from the client are echoed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from infleet.sim.spdy_frames import (
    CANCEL,
    Data,
    Frame,
    GoAway,
    Ping,
    RstStream,
    SpdyDecoder,
    SpdyEncoder,
    SynStream,
)

log = logging.getLogger(__name__)
CHUNK = 32 * 1024

Send = Callable[[bytes], Awaitable[None]]
# port -> an open connection to it inside the pod; raises PortForwardError when nothing answers
Dial = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class PortForwardError(Exception):
    """A port of the pod cannot be reached; the message goes to the client's error stream."""


@dataclass
class _Forward:
    """One forwarded connection: its error and data streams, keyed by the client's request id."""

    port: int | None
    error_stream: int | None = None
    data_stream: int | None = None
    inbound: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


class SpdyPortForward:
    """Feeds on the client's bytes and forwards each requested connection to ``dial``."""

    def __init__(self, send: Send, dial: Dial, pod: str) -> None:
        self._send_raw, self._dial, self._pod = send, dial, pod
        self._decoder, self._encoder = SpdyDecoder(), SpdyEncoder()
        self._send_lock = asyncio.Lock()
        self._forwards: dict[str, _Forward] = {}
        self._by_stream: dict[int, _Forward] = {}

    async def _send(self, frame: bytes) -> None:
        async with self._send_lock:
            await self._send_raw(frame)

    async def receive(self, data: bytes) -> None:
        """Handle bytes from the client (any split); raises SpdyProtocolError on garbage."""
        for frame in self._decoder.feed(data):
            await self._handle(frame)

    async def _handle(self, frame: Frame) -> None:
        if isinstance(frame, SynStream):
            await self._open(frame)
        elif isinstance(frame, Data):
            forward = self._by_stream.get(frame.stream_id)
            if forward is not None and frame.stream_id == forward.data_stream:
                if frame.data:
                    forward.inbound.put_nowait(frame.data)
                if frame.fin:
                    forward.inbound.put_nowait(None)
        elif isinstance(frame, RstStream):
            forward = self._by_stream.get(frame.stream_id)
            if forward is not None and forward.task is not None and frame.stream_id == forward.data_stream:
                forward.task.cancel()
        elif isinstance(frame, Ping) and frame.ping_id % 2 == 1:  # odd ids are the client's own pings
            await self._send(self._encoder.ping(frame.ping_id))
        elif isinstance(frame, GoAway):
            await self.close()

    async def _open(self, frame: SynStream) -> None:
        # Reply under the send lock: header blocks share one compression context, so order matters.
        async with self._send_lock:
            await self._send_raw(self._encoder.syn_reply(frame.stream_id))
        stream_type = (frame.headers.get("streamtype") or [""])[0]
        request_id = (frame.headers.get("requestid") or [str(frame.stream_id)])[0]
        port_text = (frame.headers.get("port") or [""])[0]
        port = int(port_text) if port_text.isdigit() and 0 < int(port_text) < 65536 else None
        forward = self._forwards.setdefault(request_id, _Forward(port))
        self._by_stream[frame.stream_id] = forward
        if stream_type == "error":
            forward.error_stream = frame.stream_id
        elif stream_type == "data":
            forward.data_stream = frame.stream_id
            forward.task = asyncio.get_running_loop().create_task(
                self._forward(request_id, forward, port_text)
            )
        else:
            await self._send(self._encoder.rst_stream(frame.stream_id, CANCEL))

    async def _report(self, forward: _Forward, message: str) -> None:
        if forward.error_stream is not None:
            await self._send(self._encoder.data(forward.error_stream, message.encode()))

    async def _forward(self, request_id: str, forward: _Forward, port_text: str) -> None:
        assert forward.data_stream is not None
        writer: asyncio.StreamWriter | None = None
        try:
            if forward.port is None:
                raise PortForwardError(f"invalid port {port_text!r}: give a port number from 1 to 65535")
            reader, writer = await self._dial(forward.port)
            pump = asyncio.get_running_loop().create_task(self._pump(forward, writer))
            try:
                while chunk := await reader.read(CHUNK):
                    await self._send(self._encoder.data(forward.data_stream, chunk))
            finally:
                pump.cancel()
        except PortForwardError as error:
            await self._report(forward, f"error forwarding port {port_text} to pod {self._pod}: {error}")
        except (ConnectionError, OSError) as error:
            await self._report(forward, f"error forwarding port {port_text} to pod {self._pod}: {error}")
        finally:
            if writer is not None:
                writer.close()
            self._forwards.pop(request_id, None)
            with contextlib.suppress(Exception):  # the tunnel may be gone already
                for stream in (forward.data_stream, forward.error_stream):
                    if stream is not None:
                        await self._send(self._encoder.data(stream, b"", fin=True))
                        self._by_stream.pop(stream, None)

    @staticmethod
    async def _pump(forward: _Forward, writer: asyncio.StreamWriter) -> None:
        """Client bytes to the pod; the client's FIN half-closes the pod's connection."""
        while (chunk := await forward.inbound.get()) is not None:
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    async def close(self) -> None:
        """Stop every forwarded connection (the tunnel is gone)."""
        tasks = [f.task for f in self._forwards.values() if f.task is not None]
        self._forwards.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
