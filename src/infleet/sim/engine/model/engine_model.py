"""The model of one engine, built from its spec: performance model, KV block pool, scheduler, context."""

from __future__ import annotations

from dataclasses import dataclass

from infleet.api.catalog import GpuInfo, ModelInfo
from infleet.sim.engine.model.host_cost import Scheduling
from infleet.sim.engine.model.kv_cache import BlockManager
from infleet.sim.engine.model.performance import PerformanceModel
from infleet.sim.engine.model.scheduler import Scheduler, SchedulerConfig
from infleet.sim.engine.model.spec import EngineSpec


@dataclass(frozen=True)
class EngineModel:
    """What one engine computes with: its roofline, its scheduler (and block pool) and its context length."""

    perf: PerformanceModel
    scheduler: Scheduler
    max_model_len: int

    @classmethod
    def build(cls, spec: EngineSpec, model: ModelInfo, gpu: GpuInfo, name: str) -> EngineModel:
        """Size the engine for ``spec``; ``ValueError`` when the asked context does not fit the KV cache."""
        perf = PerformanceModel(
            model,
            gpu,
            spec.gpus,
            quantization=spec.quantization,
            kv_cache_dtype=spec.kv_cache_dtype,
            gpu_memory_utilization=spec.gpu_memory_utilization,
            version=spec.version,
            scheduling=Scheduling(spec.async_scheduling, spec.num_scheduler_steps),
            expert_parallel=spec.enable_expert_parallel,
        )
        capacity = perf.num_blocks(spec.block_size) * spec.block_size
        max_len = spec.max_model_len or min(model.context_length, capacity)
        if max_len > capacity:
            raise ValueError(
                f"engine {name}: max_model_len {max_len} exceeds the KV cache "
                f"({capacity} tokens on {spec.gpus} x {gpu.name}); lower --max-model-len or add GPUs"
            )
        blocks = BlockManager(
            perf.num_blocks(spec.block_size),
            spec.block_size,
            enable_prefix_caching=spec.enable_prefix_caching,
        )
        batched = max(spec.max_num_batched_tokens, spec.block_size)
        if not spec.enable_chunked_prefill:
            batched = max(batched, max_len)  # as vLLM: whole prompts must fit one step
        config = SchedulerConfig(spec.max_num_seqs, batched, spec.block_size, spec.enable_chunked_prefill)
        return cls(perf, Scheduler(perf, config, blocks), max_len)
