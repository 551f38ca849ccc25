"""Roofline performance model: how long one engine step takes on a given model, GPU SKU and GPU count.

The scheduler asks it for each step's duration and the KV-cache capacity. A step is the sum of:

- the dense GEMMs: weights streamed once (memory bound at small batches) or FLOPs at the tensor-core
  peak of the format the weights compute in (compute bound at large batches); prefill FLOPs count every
  token through the body of the model but skip the embedding lookup, and the LM head runs only for the
  sequences that sample a token;
- the routed experts of an MoE model (:mod:`.moe_cost`);
- attention: the KV cache read at the KV dtype, or its FLOPs for long prefills;
- tensor-parallel all-reduces, per-layer kernel overheads;
- with CUDA graphs captured with padding, a decode-only step computes the rows of the next captured
  batch size (:meth:`PerformanceModel.graph_rows`);
- the host's work per step (:mod:`.host_cost`), which does not shrink with tensor parallelism.

Every term is non-decreasing in the tokens, sequences and context of the step, so a bigger batch never
runs faster. Efficiencies come from the engine's profile for the GPU's vendor (:mod:`.efficiency`) and
are calibrated against published figures by ``benchmarks/engine_calibration.py``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from infleet.api.catalog import DTYPE_BYTES, GIB, GpuInfo, ModelInfo
from infleet.sim.engine.model.efficiency import Engine, EngineProfile, compute_format, engine_profile
from infleet.sim.engine.model.host_cost import Scheduling, step_with_host
from infleet.sim.engine.model.moe_cost import ExpertLayout, MoeCost

Quantization = Literal["fp8"] | None
KvCacheDtype = Literal["auto", "fp8", "fp8_e4m3", "fp8_e5m2"]


class ModelDoesNotFitError(ValueError):
    """The weights and overheads leave no room for a KV cache on the chosen GPUs."""


@dataclass(frozen=True)
class MemoryConstants:
    """How much of GPU memory is not KV cache (KAITO's measurements)."""

    weight_expansion: float = 1.02  # loaded weights are ~2% larger than the files
    overhead_per_gpu_gib: float = 2.3  # non-torch memory, activations, CUDA graphs


@dataclass(frozen=True)
class StepShape:
    """What one step computes: prefill tokens, decode sequences and attention work."""

    prefill_tokens: int = 0
    decode_seqs: int = 0
    context_tokens: int = 0  # KV entries read by attention across the batch
    attention_pairs: float = 0.0  # sum over scheduled tokens of the context each attends to
    prefill_seqs: int = 0  # sequences with a prefill chunk in the step
    # attention pairs of the largest single prefill chunk: with attention data parallelism one GPU runs it
    largest_prefill_pairs: float = 0.0

    @property
    def seqs(self) -> int:
        return self.decode_seqs + self.prefill_seqs


def kv_dtype_bytes(kv_cache_dtype: str) -> float:
    """Bytes per KV element for vLLM's ``--kv-cache-dtype`` (``auto`` keeps the 16-bit activations)."""
    return 1.0 if kv_cache_dtype.startswith("fp8") else 2.0


class PerformanceModel:
    """Step time and KV capacity for one (model, GPU SKU, GPU count, engine) engine."""

    def __init__(
        self,
        model: ModelInfo,
        gpu: GpuInfo,
        gpus: int = 1,
        *,
        quantization: Quantization = None,
        kv_cache_dtype: KvCacheDtype = "auto",
        gpu_memory_utilization: float | None = None,
        engine: Engine = "vllm",
        version: str | None = None,
        scheduling: Scheduling | None = None,
        expert_parallel: bool = False,
        attention_data_parallel: bool = False,
        cuda_graph_batch_sizes: Sequence[int] = (),
        memory: MemoryConstants | None = None,
    ) -> None:
        if gpus < 1:
            raise ValueError(f"engine {model.name}: gpus must be >= 1, got {gpus}")
        if attention_data_parallel and not (expert_parallel and model.experts):
            raise ValueError(
                f"engine {model.name}: attention data parallelism needs an MoE model with expert parallelism"
            )
        self.model = model
        self.gpu = gpu
        self.gpus = gpus
        self.memory = memory or MemoryConstants()
        self.profile: EngineProfile = engine_profile(engine, gpu.vendor, version)
        # TensorRT-LLM overlaps scheduling with the GPU by default; vLLM does so only when asked.
        self.scheduling = scheduling or Scheduling(async_scheduling=engine == "tensorrt-llm")
        self.weight_dtype = (
            "fp8" if quantization == "fp8" and model.dtype in ("bf16", "fp16") else model.dtype
        )
        self.weight_bytes = model.weight_bytes * DTYPE_BYTES[self.weight_dtype] / DTYPE_BYTES[model.dtype]
        self.kv_cache_dtype = kv_cache_dtype
        self.kv_bytes_per_token = model.kv_bytes_per_token(kv_dtype_bytes(kv_cache_dtype))
        self.gpu_memory_utilization = gpu_memory_utilization or gpu.gpu_memory_utilization
        self.format, peak_tflops = compute_format(self.weight_dtype, gpu)
        self.efficiency = self.profile.efficiencies[self.format]
        self.peak_flops = peak_tflops * 1e12
        self._bw = gpu.memory_bandwidth_gbs * 1e9
        nvlink = gpu.interconnect.kind.startswith(("nvlink", "infinity"))
        p = self.profile
        self._ar_latency = p.allreduce_latency_s if nvlink else p.pcie_allreduce_latency_s
        self._link_bytes_per_s = gpu.interconnect.bandwidth_gbs * 1e9 / 2  # one direction
        self._layer_overhead = model.layers * (
            p.layer_overhead_s + (p.low_precision_layer_overhead_s if self.format != "16bit" else 0.0)
        )
        self._setup_parameters(expert_parallel)
        self.attention_dp = attention_data_parallel and gpus > 1
        self.cuda_graph_batch_sizes = tuple(sorted(set(cuda_graph_batch_sizes)))
        self.kv_copies = self._kv_copies()
        self.kv_capacity_tokens = self._kv_capacity()

    def _setup_parameters(self, expert_parallel: bool) -> None:
        m = self.model
        total = m.parameters_b * 1e9
        bytes_per_param = self.weight_bytes / total
        layout = ExpertLayout.of(m)
        shared = layout.shared_params if layout else total
        table = m.vocab_size * m.hidden_size
        # The embedding table is looked up, not multiplied: only the LM head (the same matrix when
        # tied) is streamed, and only for the sequences that sample.
        self._lm_head_params = float(table)
        self._body_params = max(shared - table * (1 if m.tie_word_embeddings else 2), 0.0)
        self._dense_bytes = (self._body_params + self._lm_head_params) * bytes_per_param
        self._dense_bytes_all = shared * bytes_per_param  # embedding table included: what memory holds
        self.moe: MoeCost | None = None
        if layout is not None:
            self.moe = MoeCost(
                layout,
                m,
                bytes_per_param=bytes_per_param,
                gpus=self.gpus,
                expert_parallel=expert_parallel,
                efficiency=self.efficiency,
                moe=self.profile.moe,
                bandwidth_bytes_s=self._bw,
                peak_flops=self.peak_flops,
                link_bytes_s=self._link_bytes_per_s,
                collective_latency_s=self._ar_latency,
            )
        self._expert_parallel = layout is not None and expert_parallel and self.gpus > 1

    def _kv_copies(self) -> float:
        """How many times the GPUs store each token's KV entries between them.

        Tensor parallelism splits the KV heads, but each GPU holds at least one: past the KV head count
        the heads are copied (Qwen3-235B's 4 heads on 8 GPUs are stored twice), and MLA's one shared
        latent is copied on every GPU (vLLM and TensorRT-LLM both do this; so does the sizing plan).
        With attention data parallelism each GPU keeps all heads of its own sequences: one copy.
        """
        g, m = self.gpus, self.model
        if g == 1 or self.attention_dp:
            return 1.0
        if m.attention == "MLA":
            return float(g)
        return g * math.ceil(m.kv_heads / g) / m.kv_heads

    def replicated_weight_bytes(self) -> float:
        """Weight bytes held more than once: with attention data parallelism every GPU keeps its own
        copy of the non-expert weights (attention, router, norms, embeddings and LM head)."""
        if not self.attention_dp:
            return 0.0
        return self._dense_bytes_all * (self.gpus - 1)

    def _kv_capacity(self) -> int:
        usable = self.gpus * self.gpu.memory_gib * GIB * self.gpu_memory_utilization
        reserved = (
            self.weight_bytes + self.replicated_weight_bytes()
        ) * self.memory.weight_expansion + self.gpus * self.memory.overhead_per_gpu_gib * GIB
        free = usable - reserved
        if free <= self.kv_bytes_per_token * self.kv_copies * 16:
            raise ModelDoesNotFitError(
                f"model {self.model.name} ({self.weight_bytes / GIB:.1f} GiB of weights) does not fit on "
                f"{self.gpus} x {self.gpu.name} ({self.gpu.memory_gib:g} GiB each at utilization "
                f"{self.gpu_memory_utilization:g}); raise --gpus or pick a GPU with more memory"
            )
        return int(free // (self.kv_bytes_per_token * self.kv_copies))

    def num_blocks(self, block_size: int) -> int:
        return self.kv_capacity_tokens // block_size

    def weights_read(self, tokens: int) -> float:
        """Weight bytes streamed in one step: the dense part and the touched experts of an MoE."""
        if self.moe is None:
            return self._dense_bytes
        lay = self.moe.layout
        per_param = self.weight_bytes / (self.model.parameters_b * 1e9)
        experts = lay.experts * lay.touched_fraction(tokens) * lay.params_per_expert * per_param
        return self._dense_bytes + experts

    def graph_rows(self, shape: StepShape) -> int:
        """Rows the GEMMs of a step compute. A decode-only step replayed from a CUDA graph captured with
        padding (TensorRT-LLM's ``cuda_graph_config: enable_padding``) runs at the next captured batch
        size, the extra rows dummies; steps with prompt tokens, and batches above the largest captured
        size, run as they are."""
        rows = shape.prefill_tokens + shape.decode_seqs
        sizes = self.cuda_graph_batch_sizes
        if shape.prefill_tokens or not sizes or rows > sizes[-1]:
            return rows
        return sizes[bisect.bisect_left(sizes, rows)]

    def gpu_time(self, shape: StepShape) -> float:
        """Seconds the GPUs work on one step (no host time)."""
        tokens = self.graph_rows(shape)
        if tokens <= 0:
            return 0.0
        g = self.gpus
        eff = self.efficiency
        sampled = max(shape.seqs + tokens - shape.decode_seqs - shape.prefill_tokens, 1)
        dense_flops = 2.0 * (self._body_params * tokens + self._lm_head_params * sampled)
        # With attention data parallelism each GPU streams the whole of the non-expert weights for its
        # own share of the batch; with tensor parallelism each streams its shard.
        streams = 1 if self.attention_dp else g
        dense = max(
            self._dense_bytes / (streams * self._bw * eff.bandwidth),
            dense_flops / (g * self.peak_flops * eff.compute),
        )
        experts = self.moe.time(tokens) if self.moe is not None else 0.0
        m = self.model
        kv_bytes = shape.context_tokens * self.kv_bytes_per_token * self.kv_copies
        kv_read = kv_bytes / (g * self._bw * self.profile.kv_bandwidth)
        flops_per_pair = 4.0 * m.layers * m.attention_heads * m.head_dim
        attn_rate = self.gpu.bf16_tflops * 1e12 * self.profile.attention_compute
        attn_compute = flops_per_pair * shape.attention_pairs / (g * attn_rate)
        if self.attention_dp:
            # A sequence's attention runs on the one GPU that holds it: a long prompt's prefill is not
            # split, and the other GPUs wait for it at the MoE's collectives.
            attn_compute = max(attn_compute, flops_per_pair * shape.largest_prefill_pairs / attn_rate)
        attention = max(kv_read, attn_compute)
        return dense + experts + attention + self.communication(tokens) + self._layer_overhead

    def communication(self, tokens: int) -> float:
        """Tensor-parallel all-reduces: two per layer, one with expert parallelism (the MoE pays its own).
        With attention data parallelism the attention all-reduce becomes the all-gather of every rank's
        tokens before the experts and the reduce-scatter after them: the same bytes, so the same cost."""
        g = self.gpus
        if g == 1:
            return 0.0
        per_layer = 1 if self._expert_parallel else 2
        payload = tokens * self.model.hidden_size * 2.0 * 2.0 * (g - 1) / g
        return per_layer * self.model.layers * (self._ar_latency + payload / self._link_bytes_per_s)

    def step_time(self, shape: StepShape) -> float:
        """Seconds one engine step takes for this batch, host work included."""
        gpu = self.gpu_time(shape)
        if gpu <= 0.0:
            return 0.0
        return step_with_host(gpu, shape.seqs, self.profile.host, self.scheduling, self.gpu.host_cpu_slowdown)

    def decode_roofline_tokens_per_s(self, context: int = 0) -> float:
        """The physical batch-1 decode ceiling: all bandwidth, no overheads, no communication."""
        per_token = self.weights_read(1) + context * self.kv_bytes_per_token
        return self.gpus * self._bw / per_token
