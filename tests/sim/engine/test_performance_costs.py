"""The performance model's costs: monotone in batch, host cost, MoE, tensor-core formats, KV dtype."""

from __future__ import annotations

import pytest

from infleet.api.catalog import load_catalog
from infleet.sim.engine.model.host_cost import Scheduling
from infleet.sim.engine.model.performance import ModelDoesNotFitError, PerformanceModel, StepShape

BATCHES = (1, 2, 3, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024)


def model(name: str, gpu: str, gpus: int = 1, **kwargs: object) -> PerformanceModel:
    catalog = load_catalog()
    return PerformanceModel(catalog.model(name), catalog.gpu(gpu), gpus, **kwargs)  # type: ignore[arg-type]


def decode(batch: int, context: int = 1000) -> StepShape:
    return StepShape(decode_seqs=batch, context_tokens=batch * context, attention_pairs=batch * context)


def test_step_time_never_falls_as_the_batch_grows_for_any_catalog_model_on_any_sku() -> None:
    catalog = load_catalog()
    checked = 0
    for info in catalog.models:
        for gpu in catalog.gpus:
            for gpus in (1, 2, 4, 8):
                for quantization in (None, "fp8"):
                    try:
                        p = PerformanceModel(info, gpu, gpus, quantization=quantization)
                    except ModelDoesNotFitError:
                        continue
                    checked += 1
                    decode_times = [p.step_time(decode(b)) for b in BATCHES]
                    assert decode_times == sorted(decode_times), (
                        f"{info.name} {quantization} {gpus}x {gpu.name}"
                    )
                    prefill_times = [
                        p.step_time(StepShape(prefill_tokens=t, attention_pairs=t * t / 2, prefill_seqs=1))
                        for t in (1, 16, 128, 512, 2048, 8192)
                    ]
                    assert prefill_times == sorted(prefill_times), f"{info.name} {gpus}x {gpu.name} prefill"
                break  # the smallest GPU count that holds the model
    assert checked > 300


def test_fp8_70b_on_two_h100_is_not_faster_at_batch_16_than_at_batch_1() -> None:
    p = model("llama-3.3-70b-instruct", "H100", 2, quantization="fp8")
    assert p.step_time(decode(16)) >= p.step_time(decode(1))


def test_host_cost_grows_with_sequences_and_does_not_shrink_with_tensor_parallelism() -> None:
    one = model("llama-3.1-8b-instruct", "H100", 1, quantization="fp8", version="0.5.4")
    eight = model("llama-3.1-8b-instruct", "H100", 8, quantization="fp8", version="0.5.4")
    host = one.profile.host
    assert host.cpu_time(256) > host.cpu_time(1) + 255 * 0.5 * host.per_seq_s
    # TP8 cuts the GPU work, but vLLM 0.5's host share stays: published, 1.16x from TP1 to TP8.
    assert eight.step_time(decode(256, 300)) > 0.6 * one.step_time(decode(256, 300))
    host_256 = one.step_time(decode(256)) - one.gpu_time(decode(256))
    assert host_256 == pytest.approx(eight.step_time(decode(256)) - eight.gpu_time(decode(256)))


def test_small_model_on_a_big_gpu_is_host_bound_in_vllm_v0_and_multi_step_hides_it() -> None:
    v0 = model("llama-3.1-8b-instruct", "H100", version="0.6.0")
    shape = decode(256, 300)
    assert v0.step_time(shape) > 2 * v0.gpu_time(shape)  # more host than GPU per step
    ten = model("llama-3.1-8b-instruct", "H100", version="0.6.0", scheduling=Scheduling(steps=10))
    assert ten.step_time(shape) < 0.6 * v0.step_time(shape)
    v1 = model("llama-3.1-8b-instruct", "H100", version="0.11.0")
    assert v1.step_time(shape) < 0.5 * v0.step_time(shape)


def test_async_scheduling_overlaps_host_work_with_the_gpu() -> None:
    sync = model("openai/gpt-oss-20b", "H100")
    overlapped = model("openai/gpt-oss-20b", "H100", scheduling=Scheduling(async_scheduling=True))
    shape = decode(256, 200)
    assert overlapped.step_time(shape) < sync.step_time(shape)
    assert overlapped.step_time(shape) >= max(overlapped.gpu_time(shape), 0.0)


def test_moe_pays_routing_and_grouped_gemm_costs_beyond_expert_bytes() -> None:
    p = model("qwen3-30b-a3b", "A100-80GB")
    assert p.moe is not None
    bytes_only = p.weights_read(1) / (p.gpu.memory_bandwidth_gbs * 1e9)
    assert p.gpu_time(decode(1, 200)) > 1.6 * bytes_only
    # Few tokens per expert: 8 tokens touch ~half the experts, so the step costs several times batch 1.
    assert p.moe.time(8) > 3 * p.moe.time(1)


def test_expert_parallel_pays_all_to_all_and_imbalance() -> None:
    tp = model("qwen3-235b-a22b", "H200", 8, quantization="fp8")
    ep = model("qwen3-235b-a22b", "H200", 8, quantization="fp8", expert_parallel=True)
    assert tp.moe is not None
    assert ep.moe is not None
    assert tp.moe.communication(512) == 0.0
    assert ep.moe.communication(512) > 0.0
    assert ep.moe.imbalance(64) > ep.moe.imbalance(4096) > 1.0
    assert tp.moe.imbalance(64) == 1.0


def test_mxfp4_is_upcast_on_hopper_and_native_on_blackwell() -> None:
    hopper = model("openai/gpt-oss-20b", "H100")
    assert hopper.format == "4bit-upcast"
    assert hopper.peak_flops == pytest.approx(hopper.gpu.bf16_tflops * 1e12)
    blackwell = model("openai/gpt-oss-20b", "B200")
    assert blackwell.format == "fp4"
    assert blackwell.peak_flops > 2 * blackwell.gpu.fp8_tflops * 1e12 * 0.99  # type: ignore[operator]
    # Prefill is compute bound: the upcast H100 runs far below its FP8 peak.
    shape = StepShape(prefill_tokens=8192, attention_pairs=8192 * 1024, prefill_seqs=4)
    assert 8192 / hopper.step_time(shape) < 60_000


def test_fp8_is_upcast_on_ampere() -> None:
    ampere = model("llama-3.1-8b-instruct", "A100-80GB", quantization="fp8")
    hopper = model("llama-3.1-8b-instruct", "H100", quantization="fp8")
    assert ampere.format == "fp8-upcast"
    assert hopper.format == "fp8"
    assert ampere.peak_flops == pytest.approx(ampere.gpu.bf16_tflops * 1e12)
    assert ampere.weight_bytes == pytest.approx(hopper.weight_bytes)  # still stored and read as 8-bit


def test_amd_gets_its_own_efficiencies() -> None:
    amd = model("llama-3.1-405b-instruct", "MI300X", 8, quantization="fp8")
    nvidia = model("llama-3.1-405b-instruct", "H200", 8, quantization="fp8")
    assert amd.profile.name == "vllm-rocm"
    assert nvidia.profile.name == "vllm"
    assert amd.efficiency != nvidia.efficiency


def test_fp8_kv_cache_holds_twice_the_tokens_and_reads_half_the_bytes() -> None:
    auto = model("llama-3.3-70b-instruct", "H100", 2, quantization="fp8")
    fp8 = model("llama-3.3-70b-instruct", "H100", 2, quantization="fp8", kv_cache_dtype="fp8")
    assert fp8.kv_capacity_tokens == pytest.approx(2 * auto.kv_capacity_tokens, rel=0.001)
    long_context = decode(64, 5000)
    assert fp8.step_time(long_context) < auto.step_time(long_context)


def test_prefill_skips_embeddings_and_runs_the_lm_head_per_sampled_sequence() -> None:
    p = model("llama-3.1-8b-instruct", "H100")
    m = p.model
    assert p._body_params == pytest.approx(m.parameters_b * 1e9 - 2 * m.vocab_size * m.hidden_size)
    one = p.gpu_time(StepShape(prefill_tokens=8192, attention_pairs=8192, prefill_seqs=1))
    many = p.gpu_time(StepShape(prefill_tokens=8192, attention_pairs=8192, prefill_seqs=64))
    assert many > one


def test_cuda_graph_padding_prices_a_decode_step_at_the_next_captured_batch_size() -> None:
    sizes = (1, 2, 4, 8, 16, 32, 64, 128, 256, 384, 512)
    kwargs: dict[str, object] = {"quantization": "fp8", "kv_cache_dtype": "fp8", "engine": "tensorrt-llm"}
    padded = model("meta-llama/Llama-3.1-405B-Instruct", "H100", 8, cuda_graph_batch_sizes=sizes, **kwargs)
    plain = model("meta-llama/Llama-3.1-405B-Instruct", "H100", 8, **kwargs)
    # 166 sequences run in the graph captured for 256: its GEMMs, LM head and all-reduces cost 256 rows,
    # while attention reads only the real sequences' KV.
    real = decode(166, 2200)
    assert padded.graph_rows(real) == 256
    assert padded.gpu_time(real) > plain.gpu_time(real)
    assert padded.gpu_time(real) < plain.gpu_time(decode(256, 2200))
    # Steps with prompt tokens run eagerly, and so do batches above the largest captured size.
    mixed = StepShape(prefill_tokens=100, decode_seqs=166, context_tokens=166 * 2200, prefill_seqs=1)
    assert padded.graph_rows(mixed) == 266
    assert padded.gpu_time(mixed) == plain.gpu_time(mixed)
    assert padded.graph_rows(decode(600)) == 600
    # Still monotone: a bigger batch never runs faster.
    times = [padded.step_time(decode(b)) for b in BATCHES]
    assert times == sorted(times)
