"""Scrapes each replica's /metrics at a sub-second interval and stores the load signals routing uses:
queue depth, running requests and KV-cache usage, under vLLM's names (``vllm:num_requests_waiting``...)
or SGLang's (``sglang:num_queue_reqs``...), as :mod:`infleet.api.engine_metrics` lists them; summed or
averaged over engine indexes. Started by the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from infleet.api import engine_metrics
from infleet.gateway.config import ScrapeConfig
from infleet.gateway.replica import Replica
from infleet.gateway.transport import Transport, UpstreamError, read_body
from infleet.kube.clock import Clock, SystemClock


@dataclass(slots=True)
class EngineLoad:
    waiting: float = 0.0
    running: float = 0.0
    kv_usage: float = 0.0
    kv_tokens: int = 0  # KV-cache capacity in tokens (cache_config_info), 0 if not exported


# Bytes, because the scrape parses the raw exposition without decoding it (it runs every 100 ms per replica).
_PREFIXES = tuple(prefix.encode() for prefix in engine_metrics.PREFIXES)
_WAITING = frozenset(name.encode() for name in engine_metrics.WAITING)
_RUNNING = frozenset(name.encode() for name in engine_metrics.RUNNING)
_KV = frozenset(name.encode() for name in engine_metrics.KV_USAGE)
_CACHE_INFO = frozenset(names.cache_config_info.encode() for names in engine_metrics.ENGINES)


def _label(line: bytes, name: bytes) -> bytes | None:
    """One label's value from an exposition line (``name="value"``), None if absent."""
    start = line.find(b"," + name + b'="')
    if start < 0:
        start = line.find(b"{" + name + b'="')
    if start < 0:
        return None
    start += len(name) + 3
    end = line.find(b'"', start)
    return line[start:end] if end >= 0 else None


def _kv_tokens(line: bytes) -> int:
    """KV-cache capacity from vLLM's cache_config_info labels: num_gpu_blocks x block_size."""
    blocks, size = _label(line, b"num_gpu_blocks"), _label(line, b"block_size")
    try:
        return int(blocks) * int(size) if blocks and size else 0
    except ValueError:
        return 0


def _sample(line: bytes) -> tuple[bytes, float] | None:
    """A sample line's metric name and value; None if it is not one."""
    name_end = min((i for i in (line.find(b"{"), line.find(b" ")) if i >= 0), default=-1)
    if name_end < 0:
        return None
    fields = line[line.rfind(b"}") + 1 :].split() if b"}" in line else line.split()[1:]
    if not fields:
        return None
    try:
        return line[:name_end], float(fields[0])
    except ValueError:
        return None


def parse_engine_load(text: bytes) -> EngineLoad | None:
    """Reads the load gauges from Prometheus text; None if none of them is present."""
    load = EngineLoad()
    kv_values: list[float] = []
    found = False
    for line in text.split(b"\n"):
        if not line.startswith(_PREFIXES) or (sample := _sample(line)) is None:
            continue
        name, value = sample
        if name in _WAITING:
            load.waiting += value
        elif name in _RUNNING:
            load.running += value
        elif name in _KV:
            kv_values.append(value)
        elif name in _CACHE_INFO:
            load.kv_tokens += _kv_tokens(line)
            continue
        else:
            continue
        found = True
    if kv_values:
        load.kv_usage = sum(kv_values) / len(kv_values)
    return load if found else None


class EngineScraper:
    """One loop for all replicas; each scrape runs concurrently so a slow replica delays no other."""

    def __init__(
        self,
        transport: Transport,
        replicas: Callable[[], list[Replica]],
        config: ScrapeConfig,
        clock: Clock | None = None,
    ) -> None:
        self._transport = transport
        self._replicas = replicas
        self.config = config
        self._clock = clock or SystemClock()

    async def scrape(self, replica: Replica) -> bool:
        loop = asyncio.get_running_loop()
        sent_at = loop.time()
        deadline = sent_at + self.config.timeout
        path = (replica.origin.base_path.removesuffix("/v1") + "/metrics").encode()
        try:
            response = await self._transport.send(replica.origin, b"GET", path, [], (), deadline, deadline)
            try:
                body = await read_body(response, deadline)
            finally:
                response.close()
        except UpstreamError:
            return False
        load = parse_engine_load(body) if response.status == 200 else None
        if load is None:
            return False
        replica.round_trip.observe(loop.time() - sent_at)
        replica.waiting = load.waiting
        replica.running = load.running
        replica.kv_usage = load.kv_usage
        if load.kv_tokens:
            replica.kv_capacity_tokens = load.kv_tokens
        replica.metrics_time = self._clock.now()
        return True

    async def run(self) -> None:
        while True:
            targets = [r for r in self._replicas() if not r.external]
            if targets:
                await asyncio.gather(*(self.scrape(r) for r in targets))
            await self._clock.sleep(self.config.interval)
