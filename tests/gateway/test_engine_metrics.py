"""Engine load parsing from vLLM's and SGLang's Prometheus text, old and new metric names."""

from __future__ import annotations

import asyncio
import contextlib

from infleet.gateway.config import ScrapeConfig
from infleet.gateway.engine_metrics import EngineScraper, parse_engine_load
from infleet.gateway.http_pool import HttpPool
from infleet.gateway.replica import Replica
from infleet.gateway.transport import Origin

TEXT = b"""# HELP vllm:num_requests_waiting Number of requests waiting.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="m"} 3.0
vllm:num_requests_waiting{engine="1",model_name="m"} 2.0
vllm:num_requests_running{engine="0",model_name="m"} 7.0
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.5
vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.25
vllm:prompt_tokens_total{engine="0",model_name="m"} 100.0
"""


def test_sums_queues_and_averages_kv_over_engines() -> None:
    load = parse_engine_load(TEXT)
    assert load is not None
    assert load.waiting == 5.0
    assert load.running == 7.0
    assert load.kv_usage == 0.375


def test_accepts_the_older_gpu_cache_name_and_rejects_foreign_text() -> None:
    load = parse_engine_load(b'vllm:gpu_cache_usage_perc{model_name="m"} 0.9\n')
    assert load is not None
    assert load.kv_usage == 0.9
    assert parse_engine_load(b"trtllm_num_requests_waiting 4\nprocess_cpu_seconds_total 1\n") is None


def test_reads_sglang_load_so_routing_sees_sglang_replicas() -> None:
    text = b"""# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{model_name="m",tp_rank="0"} 4.0
sglang:num_running_reqs{model_name="m",tp_rank="0"} 9.0
sglang:token_usage{model_name="m",tp_rank="0"} 0.62
sglang:prompt_tokens_total{model_name="m",tp_rank="0"} 1200.0
"""
    load = parse_engine_load(text)
    assert load is not None
    assert (load.waiting, load.running, load.kv_usage) == (4.0, 9.0, 0.62)


def test_reads_the_kv_cache_size_from_vllm_cache_config_info() -> None:
    text = TEXT + (
        b'vllm:cache_config_info{block_size="16",cache_dtype="auto",enable_prefix_caching="True",'
        b'gpu_memory_utilization="0.9",num_gpu_blocks="1909"} 1.0\n'
    )
    load = parse_engine_load(text)
    assert load is not None
    assert load.kv_tokens == 1909 * 16
    assert load.waiting == 5.0
    assert parse_engine_load(TEXT).kv_tokens == 0  # type: ignore[union-attr]  # not exported: unknown
    odd = b'vllm:cache_config_info{num_gpu_blocks="many",block_size="16"} 1.0\nvllm:num_requests_waiting 1\n'
    assert parse_engine_load(odd).kv_tokens == 0  # type: ignore[union-attr]


async def test_a_scrape_measures_the_round_trip_to_the_replica() -> None:
    """The scraper times each scrape over a real connection: a replica 50 ms away reads about 50 ms."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while await reader.readuntil(b"\r\n\r\n"):
                await asyncio.sleep(0.05)  # the path's round trip
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(TEXT), TEXT))
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    rep = Replica("far/r0", Origin.parse(f"http://127.0.0.1:{port}/v1"), "m", frozenset({"m"}))
    pool = HttpPool()
    scraper = EngineScraper(pool, lambda: [rep], ScrapeConfig())
    try:
        for _ in range(3):
            assert await scraper.scrape(rep)
    finally:
        await pool.close()
        server.close()
    assert 0.05 <= rep.network_seconds < 0.1
    assert rep.waiting == 5.0
