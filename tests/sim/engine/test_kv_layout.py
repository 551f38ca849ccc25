"""Where the KV cache and the weights live across GPUs: KV heads copied past the head count, MLA's latent
on every GPU, and attention data parallelism (each GPU its own sequences and its own non-expert weights)."""

from __future__ import annotations

import pytest

from infleet.api.catalog import GIB, load_catalog
from infleet.sim.engine.model.performance import PerformanceModel, StepShape
from infleet.sim.engine.model.scheduler import Scheduler, SchedulerConfig
from infleet.sim.engine.model.sequence import Sequence


def model(name: str, gpu: str, gpus: int, **kwargs: object) -> PerformanceModel:
    catalog = load_catalog()
    return PerformanceModel(catalog.model(name), catalog.gpu(gpu), gpus, **kwargs)  # type: ignore[arg-type]


def free_kv_bytes(p: PerformanceModel) -> float:
    usable = p.gpus * p.gpu.memory_gib * GIB * p.gpu_memory_utilization
    weights = (p.weight_bytes + p.replicated_weight_bytes()) * p.memory.weight_expansion
    return usable - weights - p.gpus * p.memory.overhead_per_gpu_gib * GIB


def test_kv_heads_are_copied_once_tensor_parallelism_passes_the_head_count() -> None:
    qwen = model("Qwen/Qwen3-235B-A22B", "H200", 8, quantization="fp8", expert_parallel=True)
    assert qwen.model.kv_heads == 4
    assert qwen.kv_copies == 2  # 4 KV heads on 8 GPUs: each GPU holds one, every head twice
    assert qwen.kv_capacity_tokens == int(free_kv_bytes(qwen) // (2 * qwen.kv_bytes_per_token))
    llama = model("meta-llama/Llama-3.1-405B-Instruct", "H200", 8, quantization="fp8")
    assert llama.kv_copies == 1  # 8 KV heads on 8 GPUs: one each
    assert model("Qwen/Qwen3-235B-A22B", "H200", 4, quantization="fp8").kv_copies == 1


def test_mla_latent_is_held_by_every_gpu() -> None:
    deepseek = model("deepseek-ai/DeepSeek-V3-0324", "H200", 8)
    assert deepseek.kv_copies == 8
    assert deepseek.kv_capacity_tokens == int(free_kv_bytes(deepseek) // (8 * deepseek.kv_bytes_per_token))


def test_attention_data_parallel_keeps_one_kv_copy_and_a_copy_of_the_dense_weights_per_gpu() -> None:
    kwargs: dict[str, object] = {"quantization": "fp8", "kv_cache_dtype": "fp8", "engine": "tensorrt-llm"}
    qwen = "Qwen/Qwen3-235B-A22B"
    tp = model(qwen, "H200", 8, expert_parallel=True, **kwargs)
    adp = model(qwen, "H200", 8, expert_parallel=True, attention_data_parallel=True, **kwargs)
    assert adp.kv_copies == 1
    assert tp.replicated_weight_bytes() == 0
    # Attention, router, norms, embedding and LM head (about 8B parameters at one byte) on 7 more GPUs.
    assert adp.replicated_weight_bytes() == pytest.approx(7 * 7.9e9, rel=0.05)
    assert adp.kv_capacity_tokens == int(free_kv_bytes(adp) // adp.kv_bytes_per_token)
    # One copy of the KV outweighs the copied weights on H200: more tokens than with TP's two copies,
    # fewer than a perfect split of the KV heads would give.
    perfect = int(free_kv_bytes(tp) // tp.kv_bytes_per_token)
    assert tp.kv_capacity_tokens < adp.kv_capacity_tokens < perfect
    # A small decode batch streams the whole of the dense weights on every GPU: slower than a shard each.
    small = StepShape(decode_seqs=8, context_tokens=8 * 1000, attention_pairs=8 * 1000)
    assert adp.gpu_time(small) > tp.gpu_time(small)


def test_attention_data_parallel_needs_an_moe_with_expert_parallelism() -> None:
    with pytest.raises(ValueError, match="expert parallelism"):
        model("meta-llama/Llama-3.1-405B-Instruct", "H200", 8, attention_data_parallel=True)
    with pytest.raises(ValueError, match="expert parallelism"):
        model("Qwen/Qwen3-235B-A22B", "H200", 8, attention_data_parallel=True)


def test_attention_data_parallel_runs_a_long_prompt_s_attention_on_one_gpu() -> None:
    kwargs: dict[str, object] = {"quantization": "fp8", "kv_cache_dtype": "fp8", "engine": "tensorrt-llm"}
    qwen = "Qwen/Qwen3-235B-A22B"
    tp = model(qwen, "H200", 8, expert_parallel=True, **kwargs)
    adp = model(qwen, "H200", 8, expert_parallel=True, attention_data_parallel=True, **kwargs)
    chunk = 8192
    pairs = chunk * (12000 + chunk / 2)  # the last chunk of a 20,000-token prompt
    step = StepShape(prefill_tokens=chunk, attention_pairs=pairs, prefill_seqs=1, largest_prefill_pairs=pairs)
    # Its attention FLOPs alone on one GPU take longer than the rest of the step spread over eight.
    assert adp.gpu_time(step) > 2 * tp.gpu_time(step)
    # Eight such chunks, one per GPU, cost each GPU one chunk: the same step time as one chunk's attention.
    eight = StepShape(
        prefill_tokens=8 * chunk, attention_pairs=8 * pairs, prefill_seqs=8, largest_prefill_pairs=pairs
    )
    attention_one = adp.gpu_time(step) - adp.gpu_time(StepShape(prefill_tokens=chunk, prefill_seqs=1))
    attention_eight = adp.gpu_time(eight) - adp.gpu_time(StepShape(prefill_tokens=8 * chunk, prefill_seqs=8))
    assert attention_eight == pytest.approx(attention_one)


def test_scheduler_reports_the_largest_prefill_chunk_only_for_attention_data_parallel_engines() -> None:
    kwargs: dict[str, object] = {"quantization": "fp8", "kv_cache_dtype": "fp8", "engine": "tensorrt-llm"}
    qwen = "Qwen/Qwen3-235B-A22B"
    shapes = []
    for adp in (False, True):
        p = model(qwen, "H200", 8, expert_parallel=True, attention_data_parallel=adp, **kwargs)
        sched = Scheduler(p, SchedulerConfig(256, 4096, 16, True, False))
        sched.add(Sequence("long", list(range(3000)), ["x"] * 4, "length", 0.0))
        sched.add(Sequence("short", list(range(10**6, 10**6 + 500)), ["x"] * 4, "length", 0.0))
        shapes.append(sched.schedule(0.0).shape)
    plain, adp_shape = shapes
    assert plain.largest_prefill_pairs == 0.0
    assert adp_shape.attention_pairs == pytest.approx(3000 * 1500 + 500 * 250)
    assert adp_shape.largest_prefill_pairs == pytest.approx(3000 * 1500)
