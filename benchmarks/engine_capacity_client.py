"""The client side of ``engine_capacity.py``: streaming chat requests over raw keep-alive connections.

Two load shapes: a closed loop (S streams, each sending its next request when the last one ends) and an
open loop (new requests at a fixed total rate, Poisson arrivals, whatever the engines' latency), the
shape of real traffic and the one that measures what a hosting process costs per new request.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from dataclasses import dataclass, field

import orjson

WORDS = ("incident", "latency", "replica", "gateway", "region", "cache", "token", "queue", "memory", "budget")


@dataclass
class Window:
    open_at: float = float("inf")  # nothing sent or completed before the window opens (the ramp) counts
    close_at: float = float("inf")
    ttfts: dict[str, float] = field(default_factory=dict)
    header_times: list[float] = field(default_factory=list)
    completed: int = 0
    chunks: int = 0
    errors: int = 0
    busy_s: float = 0.0  # summed durations of the requests completed in the window (in flight = busy / span)
    stop: bool = False


def request_bytes(port: int, model: str, prompt_words: int, max_tokens: int, serial: int) -> bytes:
    words = " ".join(WORDS[(serial * 7 + i * 3) % len(WORDS)] for i in range(prompt_words))
    # Output lengths vary (0.5x-1.5x) so that clients do not fall into lock step.
    tokens = max_tokens // 2 + serial % max(1, max_tokens)
    body = orjson.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": f"#{serial} {words}"}],
            "max_tokens": tokens,
            "stream": True,
            "ignore_eos": True,
            "request_id": f"r{serial}",
        }
    )
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]
MAX_IN_FLIGHT = 5000
_IDLE_LIMIT_S = 3.0  # well under the engines' keep-alive timeout (5 s), after which they close connections


async def exchange(
    conn: Connection, port: int, model: str, window: Window, serial: int, args: argparse.Namespace
) -> bool:
    """Send one streaming request and read its response to the end; False when the connection broke."""
    reader, writer = conn
    sent = time.perf_counter()
    writer.write(request_bytes(port, model, args.prompt_words, args.max_tokens, serial))
    first: float | None = None
    headers: float | None = None
    tail = b""
    while True:
        data = await reader.read(262_144)
        if not data:
            window.errors += 1
            return False
        if headers is None:
            headers = time.perf_counter()
        if first is None and b"data: " in data:
            first = time.perf_counter()
        window.chunks += data.count(b"data: ")
        tail = (tail + data)[-64:]
        if tail.endswith(b"0\r\n\r\n") and b"[DONE]" in tail:
            break
    done = time.perf_counter()
    if first is not None and window.open_at <= sent and first <= window.close_at:
        window.ttfts[f"r{serial}"] = first - sent
        window.header_times.append((headers or first) - sent)
    if window.open_at <= done <= window.close_at:  # throughput: whatever completes inside the window
        window.completed += 1
        window.busy_s += done - sent
    return True


async def stream_client(
    port: int, model: str, window: Window, serial0: int, args: argparse.Namespace
) -> None:
    """Closed loop: one connection, one request in flight, the next sent when the last one ends."""
    await asyncio.sleep(args.ramp * 0.5 * (serial0 * 0.618034 % 1.0))  # staggered starts
    conn = await asyncio.open_connection("127.0.0.1", port)
    serial = serial0
    try:
        while not window.stop:
            serial += 1_000_033
            if not await exchange(conn, port, model, window, serial, args):
                return
    finally:
        conn[1].close()


class OpenLoop:
    """Poisson arrivals at ``rate`` requests/s in total, spread round-robin over the engines; each request
    takes an idle keep-alive connection to its engine or opens one (HTTP/1.1 has one request in flight per
    connection), so the offered load never waits for the engines' answers. Past ``MAX_IN_FLIGHT`` requests
    (a host that fell far behind) arrivals are dropped and counted as errors rather than opening
    connections without end."""

    def __init__(self, ports: list[int], window: Window, args: argparse.Namespace) -> None:
        self._ports = ports
        self._window = window
        self._args = args
        # Idle connections per port, most recently used last, with the time each went idle.
        self._idle: dict[int, list[tuple[Connection, float]]] = {port: [] for port in ports}
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0

    async def run(self, rate: float) -> None:
        rng = random.Random(7)
        loop = asyncio.get_running_loop()
        due = loop.time()
        serial = 0
        while not self._window.stop:
            now = loop.time()
            while due <= now:  # every arrival whose time has come (the loop's timers are ~1 ms coarse)
                serial += 1
                due += rng.expovariate(rate)
                if len(self._tasks) >= MAX_IN_FLIGHT:
                    self._window.errors += 1
                    continue
                index = serial % len(self._ports)
                task = asyncio.create_task(self._request(index, serial))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(max(0.0, due - loop.time()))

    async def _request(self, index: int, serial: int) -> None:
        port = self._ports[index]
        idle = self._idle[port]
        now = time.monotonic()
        while idle and now - idle[0][1] > _IDLE_LIMIT_S:
            idle.pop(0)[0][1].close()  # the server closes it soon anyway (keep-alive timeout)
        if idle:
            conn = idle.pop()[0]
        else:
            conn = await asyncio.open_connection("127.0.0.1", port)
            self.connections += 1
        if await exchange(conn, port, f"m{index}", self._window, serial, self._args):
            idle.append((conn, time.monotonic()))
        else:
            conn[1].close()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for conns in self._idle.values():
            for (_, writer), _ in conns:
                writer.close()
