"""The Prometheus names inference engines expose their load and serving figures under, vLLM and SGLang.

One home for every engine metric name: the simulated engine emits vLLM's exposition from these
constants, the gateway routes on the load signals and the models controller reports the serving figures,
each reading the same names for both engines (the mapping the Gateway API Inference Extension's
model-server protocol uses). Counter families are named without ``_total``; samples carry it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EngineMetricNames:
    """The names one engine exposes each signal under (current name first, older names after)."""

    engine: str
    waiting: str
    running: str
    kv_usage: tuple[str, ...]
    time_to_first_token: str  # histogram family
    requests: str  # counter family: finished requests
    prompt_tokens: str  # counter family
    generation_tokens: str  # counter family
    cache_config_info: str


VLLM = EngineMetricNames(
    engine="vllm",
    waiting="vllm:num_requests_waiting",
    running="vllm:num_requests_running",
    # vLLM renamed gpu_cache_usage_perc to kv_cache_usage_perc; older engines still serve the first.
    kv_usage=("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
    time_to_first_token="vllm:time_to_first_token_seconds",
    requests="vllm:request_success",
    prompt_tokens="vllm:prompt_tokens",
    generation_tokens="vllm:generation_tokens",
    cache_config_info="vllm:cache_config_info",
)

SGLANG = EngineMetricNames(
    engine="sglang",
    waiting="sglang:num_queue_reqs",
    running="sglang:num_running_reqs",
    kv_usage=("sglang:token_usage",),
    time_to_first_token="sglang:time_to_first_token_seconds",
    requests="sglang:num_requests",
    prompt_tokens="sglang:prompt_tokens",
    generation_tokens="sglang:generation_tokens",
    cache_config_info="sglang:cache_config_info",
)

#: Every engine whose exposition Infleet reads, vLLM first.
ENGINES = (VLLM, SGLANG)
#: Prefixes of every engine's metric names, for parsers that skip all other lines.
PREFIXES = tuple(f"{names.engine}:" for names in ENGINES)

WAITING = tuple(names.waiting for names in ENGINES)
RUNNING = tuple(names.running for names in ENGINES)
KV_USAGE = tuple(name for names in ENGINES for name in names.kv_usage)


def total(counter_family: str) -> str:
    """The sample name of a counter family in the text exposition: ``<family>_total``."""
    return f"{counter_family}_total"


def bucket(histogram_family: str) -> str:
    """The sample name of a histogram family's cumulative buckets: ``<family>_bucket``."""
    return f"{histogram_family}_bucket"


# The rest of vLLM's exposition, which the simulated engine serves in full.
VLLM_INTER_TOKEN_LATENCY = "vllm:inter_token_latency_seconds"
VLLM_TIME_PER_OUTPUT_TOKEN = "vllm:time_per_output_token_seconds"
VLLM_E2E_REQUEST_LATENCY = "vllm:e2e_request_latency_seconds"
VLLM_REQUEST_QUEUE_TIME = "vllm:request_queue_time_seconds"
VLLM_REQUEST_INFERENCE_TIME = "vllm:request_inference_time_seconds"
VLLM_REQUEST_PREFILL_TIME = "vllm:request_prefill_time_seconds"
VLLM_REQUEST_DECODE_TIME = "vllm:request_decode_time_seconds"
VLLM_REQUEST_PROMPT_TOKENS = "vllm:request_prompt_tokens"
VLLM_REQUEST_GENERATION_TOKENS = "vllm:request_generation_tokens"
VLLM_ITERATION_TOKENS = "vllm:iteration_tokens_total"
VLLM_PREFIX_CACHE_QUERIES = "vllm:prefix_cache_queries"
VLLM_PREFIX_CACHE_HITS = "vllm:prefix_cache_hits"
VLLM_NUM_PREEMPTIONS = "vllm:num_preemptions"
#: KAITO's rate-limit rejection counter, served beside vLLM's.
KAITO_RATELIMIT_REJECTED = "kaito_ratelimit_rejected"
