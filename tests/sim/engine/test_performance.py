"""Roofline: physical limits, KV capacity from memory, tensor parallelism and quantization."""

from __future__ import annotations

import pytest

from infleet.api.catalog import load_catalog
from infleet.sim.engine.model.performance import ModelDoesNotFitError, PerformanceModel, StepShape


def model(name: str, gpu: str, gpus: int = 1, **kwargs: object) -> PerformanceModel:
    catalog = load_catalog()
    return PerformanceModel(catalog.model(name), catalog.gpu(gpu), gpus, **kwargs)  # type: ignore[arg-type]


def test_kv_capacity_matches_the_reference_derivation() -> None:
    # inference-engines.md §4: Llama-3.1-8B on one 80 GiB GPU at 0.90 holds about 446k tokens.
    assert model("llama-3.1-8b-instruct", "H100").kv_capacity_tokens == pytest.approx(446_000, rel=0.02)
    # Qwen3-32B on 2 x 80 GiB at 0.90: about 316k (llm-d publishes 307,328).
    assert model("qwen3-32b", "H100", 2).kv_capacity_tokens == pytest.approx(316_000, rel=0.03)


def test_batch_one_decode_stays_under_the_bandwidth_roofline() -> None:
    for name, gpu in [
        ("llama-3.1-8b-instruct", "H100"),
        ("llama-3.1-8b-instruct", "A10"),
        ("qwen3-8b", "L4"),
    ]:
        p = model(name, gpu)
        speed = 1 / p.step_time(StepShape(decode_seqs=1, context_tokens=512))
        assert 0.4 * p.decode_roofline_tokens_per_s() < speed < p.decode_roofline_tokens_per_s()


def test_faster_memory_decodes_faster() -> None:
    shape = StepShape(decode_seqs=1, context_tokens=512)
    times = [
        model("llama-3.1-8b-instruct", g).step_time(shape) for g in ("L4", "A10", "A100-80GB", "H100", "H200")
    ]
    assert times == sorted(times, reverse=True)


def test_prefill_is_compute_bound_and_scales_with_tokens() -> None:
    p = model("llama-3.1-8b-instruct", "A100-80GB")
    short = p.step_time(StepShape(prefill_tokens=2048, attention_pairs=2048 * 1024))
    long = p.step_time(StepShape(prefill_tokens=8192, attention_pairs=8192 * 4096))
    assert long > 3.5 * short


def test_tensor_parallel_splits_work_but_pays_for_communication() -> None:
    shape = StepShape(decode_seqs=32, context_tokens=32 * 1000)
    one = model("llama-3.1-70b-instruct", "H100", 2).step_time(shape)
    four = model("llama-3.1-70b-instruct", "H100", 4).step_time(shape)
    assert four < one
    assert four > one / 2  # all-reduces and fixed overheads do not shrink


def test_fp8_halves_weight_memory() -> None:
    bf16 = model("qwen2.5-32b-instruct", "H100")
    fp8 = model("qwen2.5-32b-instruct", "H100", quantization="fp8")
    assert fp8.weight_bytes == pytest.approx(bf16.weight_bytes / 2)
    assert fp8.kv_capacity_tokens > bf16.kv_capacity_tokens


def test_moe_reads_only_active_experts_at_batch_one() -> None:
    p = model("qwen3-30b-a3b", "H100")
    assert p.weights_read(1) < 0.2 * p.weight_bytes
    # Every expert is touched; only the embedding table (looked up, not streamed) is skipped.
    assert 0.95 * p.weight_bytes < p.weights_read(256) < p.weight_bytes


def test_too_big_model_names_the_fix() -> None:
    with pytest.raises(ModelDoesNotFitError, match="raise --gpus"):
        model("llama-3.1-70b-instruct", "L4")
