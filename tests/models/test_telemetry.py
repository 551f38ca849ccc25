"""vLLM /metrics parsing, rates between scrapes, TTFT quantiles and the scraper over a mock transport."""

from __future__ import annotations

import httpx
import pytest

from infleet.kube.clock import ManualClock
from infleet.models.telemetry import (
    EngineSample,
    TelemetryScraper,
    aggregate,
    histogram_quantile,
    parse_metrics,
    window,
)


def exposition(requests: float, tokens: float, waiting: float, kv: float, fast: float, total: float) -> str:
    return f"""\
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{{model_name="m",engine="0"}} {waiting}
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{{model_name="m",engine="0"}} 1
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{{model_name="m",engine="0"}} {kv}
# TYPE vllm:request_success counter
vllm:request_success_total{{model_name="m",engine="0",finished_reason="stop"}} {requests * 0.75}
vllm:request_success_total{{model_name="m",engine="0",finished_reason="length"}} {requests * 0.25}
# TYPE vllm:generation_tokens counter
vllm:generation_tokens_total{{model_name="m",engine="0"}} {tokens}
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{{le="0.1",model_name="m",engine="0"}} {fast}
vllm:time_to_first_token_seconds_bucket{{le="1.0",model_name="m",engine="0"}} {total}
vllm:time_to_first_token_seconds_bucket{{le="+Inf",model_name="m",engine="0"}} {total}
vllm:time_to_first_token_seconds_count{{model_name="m",engine="0"}} {total}
vllm:time_to_first_token_seconds_sum{{model_name="m",engine="0"}} 1.0
"""


def test_parse_sums_label_sets_and_reads_gauges() -> None:
    sample = parse_metrics(exposition(100, 5000, 3, 0.4, 80, 100), at=10.0)
    assert (sample.requests, sample.generation_tokens, sample.waiting, sample.kv_usage) == (100, 5000, 3, 0.4)
    assert sample.ttft_buckets[0.1] == 80


def test_old_kv_metric_name_is_read_too() -> None:
    text = '# TYPE vllm:gpu_cache_usage_perc gauge\nvllm:gpu_cache_usage_perc{model_name="m"} 0.7\n'
    assert parse_metrics(text, 0.0).kv_usage == 0.7


def test_sglang_names_are_read_as_their_vllm_equivalents() -> None:
    text = (
        "# TYPE sglang:num_queue_reqs gauge\nsglang:num_queue_reqs 7\n"
        "# TYPE sglang:num_running_reqs gauge\nsglang:num_running_reqs 3\n"
        "# TYPE sglang:token_usage gauge\nsglang:token_usage 0.6\n"
    )
    sample = parse_metrics(text, 0.0)
    assert (sample.waiting, sample.running, sample.kv_usage) == (7, 3, 0.6)


def test_rates_and_quantiles_come_from_the_window_between_scrapes() -> None:
    before = parse_metrics(exposition(100, 5000, 0, 0.1, 80, 100), at=10.0)
    after = parse_metrics(exposition(120, 7000, 4, 0.5, 80, 120), at=20.0)
    current = window(before, after)
    assert current.requests_per_second == pytest.approx(2.0)
    assert current.tokens_per_second == pytest.approx(200.0)
    # The 20 new requests were all slower than 100 ms: p50 lies inside the (0.1, 1.0] bucket.
    assert histogram_quantile(0.5, current.ttft_buckets) == pytest.approx(0.1 + 0.9 * 0.5)
    serving = aggregate([current, window(None, after)], at=1_750_000_000.0)
    assert serving.queue_depth == 8
    assert serving.kv_cache_usage == pytest.approx(0.5)
    assert serving.requests_per_second == pytest.approx(2.0)  # a first scrape has no rate yet


def test_engine_restart_resets_rates_instead_of_going_negative() -> None:
    before = EngineSample(at=0.0, requests=500.0, generation_tokens=9000.0)
    after = EngineSample(at=5.0, requests=3.0, generation_tokens=40.0)
    assert window(before, after).requests_per_second == 0.0


def test_histogram_quantile_edge_cases() -> None:
    assert histogram_quantile(0.5, {}) is None
    assert histogram_quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None
    assert histogram_quantile(0.99, {0.1: 0.0, 1.0: 0.0, float("inf"): 10.0}) == 1.0


async def test_scraper_aggregates_registered_replicas_and_skips_dead_ones() -> None:
    scrapes = {"10.0.0.1": 0, "10.0.0.2": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host == "10.0.0.3":
            raise httpx.ConnectError("refused")
        scrapes[host] += 1
        n = scrapes[host]
        return httpx.Response(200, text=exposition(10 * n, 100 * n, 1, 0.2, n, n))

    clock = ManualClock()
    updates: list[str] = []
    scraper = TelemetryScraper(1.0, clock, httpx.MockTransport(handler), updates.append)
    endpoints = {"a": "http://10.0.0.1:5000", "b": "http://10.0.0.2:5000", "c": "http://10.0.0.3:5000"}
    scraper.set_targets("ns/chat", endpoints)
    await scraper.scrape_once()
    await clock.advance(5.0)
    await scraper.scrape_once()
    serving = scraper.serving["ns/chat"]
    assert scraper.replicas["ns/chat"] == 2
    assert serving.requests_per_second == pytest.approx(4.0)  # 10 more requests in 5 s on each of two
    assert serving.queue_depth == 2
    assert updates == ["ns/chat", "ns/chat"]
    scraper.set_targets("ns/dead", {"c": "http://10.0.0.3:5000"})
    await scraper.scrape_once()
    assert "ns/dead" not in scraper.serving  # no figures rather than zeros when nothing answers
    scraper.set_targets("ns/chat", {})
    assert "ns/chat" not in scraper.serving
