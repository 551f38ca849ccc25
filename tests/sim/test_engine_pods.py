"""The kubelet's engine hook backed by the simulated vLLM engine."""

from __future__ import annotations

import httpx

from infleet.sim.engine_launcher import EngineSpec
from infleet.sim.engine_pods import SimulatedEngineLauncher, engine_spec, flag
from infleet.sim.mini_engine import MiniEngineLauncher


def pod_engine(model: str, *args: str, gpus: int = 1, product: str = "NVIDIA-H100-80GB-HBM3") -> EngineSpec:
    return EngineSpec(
        "default",
        "llm-0",
        "uid-1",
        "vllm",
        "vllm/vllm-openai:v0.11.0",
        model,
        gpus,
        "127.0.0.1",
        0,
        args=args,
        gpu_product=product,
    )


def test_flags_in_both_spellings() -> None:
    args = ["--model", "m", "--max-model-len=4096", "--tensor-parallel-size", "2"]
    assert flag(args, "--max-model-len") == "4096"
    assert flag(args, "--tensor-parallel-size") == "2"
    assert flag(args, "--quantization") is None


def test_translation_reads_the_node_sku_and_vllm_flags() -> None:
    spec = engine_spec(
        pod_engine(
            "Qwen/Qwen2.5-7B-Instruct",
            "--served-model-name",
            "qwen",
            "--max-num-seqs",
            "64",
            "--tensor-parallel-size",
            "2",
            gpus=2,
            product="NVIDIA-A100-SXM4-80GB",
        )
    )
    assert spec.gpu == "A100-80GB"
    assert spec.gpus == 2
    assert spec.served_model_name == "qwen"
    assert spec.max_num_seqs == 64
    assert not spec.enable_prompt_tokens_details
    reporting = engine_spec(pod_engine("Qwen/Qwen2.5-7B-Instruct", "--enable-prompt-tokens-details"))
    assert reporting.enable_prompt_tokens_details


async def test_catalog_models_get_the_simulated_engine_and_others_the_fallback() -> None:
    launcher = SimulatedEngineLauncher(fallback=MiniEngineLauncher())
    try:
        endpoint = await launcher.start(pod_engine("Qwen/Qwen2.5-7B-Instruct"))
        async with httpx.AsyncClient(base_url=f"http://{endpoint.host}:{endpoint.port}") as client:
            metrics = (await client.get("/metrics")).text
            assert "vllm:num_requests_running" in metrics
            models = (await client.get("/v1/models")).json()
            assert models["data"][0]["id"] == "qwen2.5-7b-instruct"
        other = await launcher.start(pod_engine("not-a-catalog-model"))
        async with httpx.AsyncClient(base_url=f"http://{other.host}:{other.port}") as client:
            assert (await client.get("/v1/models")).status_code == 200
            assert "vllm:" not in (await client.get("/metrics")).text
        await launcher.stop("uid-1")
    finally:
        await launcher.close()


async def test_a_model_that_does_not_fit_its_gpus_falls_back() -> None:
    launcher = SimulatedEngineLauncher(fallback=MiniEngineLauncher())
    try:
        endpoint = await launcher.start(pod_engine("meta-llama/Llama-3.1-70B-Instruct", product="Tesla-T4"))
        async with httpx.AsyncClient(base_url=f"http://{endpoint.host}:{endpoint.port}") as client:
            assert (await client.get("/v1/models")).status_code == 200
            assert "vllm:" not in (await client.get("/metrics")).text
    finally:
        await launcher.close()


def test_kv_cache_dtype_and_scheduling_flags_reach_the_simulated_engine() -> None:
    spec = engine_spec(
        pod_engine(
            "meta-llama/Llama-3.3-70B-Instruct",
            "--kv-cache-dtype",
            "fp8",
            "--no-enable-chunked-prefill",
            "--async-scheduling",
            "--num-scheduler-steps=4",
            gpus=2,
        )
    )
    assert spec.kv_cache_dtype == "fp8"
    assert spec.enable_chunked_prefill is False
    assert spec.async_scheduling is True
    assert spec.num_scheduler_steps == 4
    plain = engine_spec(pod_engine("meta-llama/Llama-3.3-70B-Instruct", gpus=2))
    assert plain.kv_cache_dtype == "auto"
    assert plain.enable_chunked_prefill
    assert not plain.async_scheduling


def test_unknown_kv_cache_dtype_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="--kv-cache-dtype"):
        engine_spec(pod_engine("Qwen/Qwen2.5-7B-Instruct", "--kv-cache-dtype", "int3"))
