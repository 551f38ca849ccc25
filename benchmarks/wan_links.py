"""Simulated wide-area links for benchmarks: TCP relays on loopback that hold every chunk for a one-way
delay in each direction, so a request crossing regions pays a real round trip (and its answer's first
byte one more half), seen by the gateway and the client alike.

Run as a process of its own: ``python wan_links.py '[[target_port, one_way_ms], ...]'`` prints
``{"ports": [...]}`` (one listening port per link, in order) and relays until stdin closes. Written here
rather than with a network emulator (tc netem) because the benchmark runs unprivileged on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time

import orjson
import uvloop

_CHUNK = 65536


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Relay ``reader`` to ``writer``, each chunk written ``delay`` seconds after it was read, in order;
    a reader task stamps chunks so a slow writer does not stretch the delay of the next ones."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def read() -> None:
        while chunk := await reader.read(_CHUNK):
            queue.put_nowait((time.monotonic() + delay, chunk))
        queue.put_nowait((time.monotonic() + delay, b""))

    reading = asyncio.create_task(read())
    try:
        while True:
            due, chunk = await queue.get()
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        reading.cancel()
        if writer.can_write_eof():
            with contextlib.suppress(ConnectionError, OSError):
                writer.write_eof()


async def _relay(
    target_port: int, delay: float, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
) -> None:
    try:
        await asyncio.sleep(delay)  # the SYN crossing the link
        upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        client_w.close()
        return
    try:
        await asyncio.gather(_pump(client_r, upstream_w, delay), _pump(upstream_r, client_w, delay))
    finally:
        upstream_w.close()
        client_w.close()


async def serve(links: list[tuple[int, float]]) -> None:
    servers = []
    for target, one_way_ms in links:
        delay = one_way_ms / 1000.0

        async def handle(
            r: asyncio.StreamReader, w: asyncio.StreamWriter, t: int = target, d: float = delay
        ) -> None:
            await _relay(t, d, r, w)

        servers.append(await asyncio.start_server(handle, "127.0.0.1", 0))
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    print(orjson.dumps({"ports": ports}).decode(), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for s in servers:
        s.close()


if __name__ == "__main__":
    uvloop.run(serve([(int(t), float(ms)) for t, ms in orjson.loads(sys.argv[1])]))
