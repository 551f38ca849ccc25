"""Closed-loop HTTP load generator for the gateway benchmarks: N workers each keep one request in
flight for a fixed time, over the gateway's own lean HTTP/1.1 pool so the client is not the bottleneck.
Records client latency, time to first byte and the proxy's self-reported overhead header.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from infleet.gateway.http_pool import HttpPool
from infleet.gateway.transport import Origin, UpstreamError

OVERHEAD_HEADERS = (b"x-infleet-overhead-ms", b"x-litellm-overhead-duration-ms")


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    first_byte: list[float] = field(default_factory=list)
    overheads_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def run_load(  # noqa: C901
    url: str,
    body: bytes,
    concurrency: int,
    duration: float,
    headers: list[tuple[bytes, bytes]],
    stream: bool = False,
    max_requests: int | None = None,
    path: bytes = b"/v1/chat/completions",
) -> LoadResult:
    pool = HttpPool()
    origin = Origin.parse(url)
    loop = asyncio.get_running_loop()
    result = LoadResult()
    hdrs = [(b"content-type", b"application/json"), *headers]
    parts = [body]
    start = time.perf_counter()
    stop = start + duration
    budget = [max_requests if max_requests is not None else 1 << 62]

    async def worker() -> None:  # noqa: C901
        while time.perf_counter() < stop and budget[0] > 0:
            budget[0] -= 1
            t0 = time.perf_counter()
            deadline = loop.time() + 120
            try:
                response = await pool.send(origin, b"POST", path, hdrs, parts, deadline, deadline)
                first = None
                while True:
                    chunk = await response.next_chunk(deadline)
                    if chunk is None:
                        raise UpstreamError("client deadline")
                    if first is None:
                        first = time.perf_counter() - t0
                    if not chunk:
                        break
                response.close()
            except UpstreamError:
                result.errors += 1
                continue
            elapsed = time.perf_counter() - t0
            status = response.status
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status != 200:
                result.errors += 1
                continue
            result.requests += 1
            result.latencies.append(elapsed)
            if stream and first is not None:
                result.first_byte.append(first)
            for name, value in response.headers:
                if name in OVERHEAD_HEADERS:
                    result.overheads_ms.append(float(value))
                    break

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - start
    await pool.close()
    return result
