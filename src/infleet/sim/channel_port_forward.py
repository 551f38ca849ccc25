"""Port-forward on the WebSocket channel protocol (``v4.channel.k8s.io``), as clients other than kubectl use.

The ports come from the request's ``ports`` query; port ``i`` gets channel ``2i`` for data and ``2i+1``
for errors. The server first writes the port number (two bytes, little-endian) on both channels, then
copies bytes between the data channel and one connection to that port. A port nothing serves gets its
message on the error channel. The WebSocket ends once every port's connection has.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from infleet.sim.spdy_port_forward import CHUNK, Dial, PortForwardError

Send = Callable[[bytes], Awaitable[None]]


class ChannelPortForward:
    """One WebSocket forwarding ``ports``: feed it the client's messages, ``run`` until all are done."""

    def __init__(self, send: Send, dial: Dial, pod: str, ports: list[int]) -> None:
        self._send, self._dial, self._pod, self.ports = send, dial, pod, ports
        self._inbound: list[asyncio.Queue[bytes | None]] = [asyncio.Queue() for _ in ports]

    def receive(self, message: bytes) -> None:
        """A client message: its first byte is the channel; only data channels carry bytes in."""
        if len(message) > 1 and message[0] % 2 == 0 and message[0] // 2 < len(self.ports):
            self._inbound[message[0] // 2].put_nowait(message[1:])

    def end_of_input(self) -> None:
        for queue in self._inbound:
            queue.put_nowait(None)

    async def run(self) -> None:
        for index, port in enumerate(self.ports):
            prefix = port.to_bytes(2, "little")
            await self._send(bytes([2 * index]) + prefix)
            await self._send(bytes([2 * index + 1]) + prefix)
        await asyncio.gather(*(self._forward(index, port) for index, port in enumerate(self.ports)))

    async def _forward(self, index: int, port: int) -> None:
        data, errors = bytes([2 * index]), bytes([2 * index + 1])
        try:
            reader, writer = await self._dial(port)
        except PortForwardError as error:
            await self._send(errors + f"error forwarding port {port} to pod {self._pod}: {error}".encode())
            return
        pump = asyncio.get_running_loop().create_task(self._pump(self._inbound[index], writer))
        try:
            while chunk := await reader.read(CHUNK):
                await self._send(data + chunk)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            writer.close()

    @staticmethod
    async def _pump(queue: asyncio.Queue[bytes | None], writer: asyncio.StreamWriter) -> None:
        while (chunk := await queue.get()) is not None:
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


def parse_ports(values: list[str]) -> list[int]:
    """``ports=8000&ports=9000`` or ``ports=8000,9000``; raises ValueError naming a bad one."""
    ports = []
    for value in values:
        for text in value.split(","):
            port = int(text) if text.strip().isdigit() else 0
            if not 0 < port < 65536:
                raise ValueError(f"invalid port {text!r}: give port numbers from 1 to 65535")
            ports.append(port)
    return ports
