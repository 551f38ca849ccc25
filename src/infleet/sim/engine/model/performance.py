"""Roofline performance model: how long one engine step takes on a given model, GPU SKU and GPU count.

The scheduler asks it for each step's duration and the KV-cache capacity. Prefill is compute bound
(2 x active parameters x tokens FLOPs), decode memory bound (weights plus the KV cache read per step);
tensor parallelism divides both and adds two all-reduces per layer. Efficiencies are calibrated
against published figures by ``benchmarks/engine_calibration.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from infleet.api.catalog import DTYPE_BYTES, GIB, GpuInfo, ModelInfo

Quantization = Literal["fp8"] | None


class ModelDoesNotFitError(ValueError):
    """The weights and overheads leave no room for a KV cache on the chosen GPUs."""


@dataclass(frozen=True)
class RooflineConstants:
    """Efficiencies and fixed costs; defaults are the calibrated ones."""

    bandwidth_efficiency_16bit: float = 0.87  # weight and KV streaming at 16-bit (CUDA-graph decode)
    # Published fp8 batch-1 figures (TRT-LLM GPT-J on H100, vLLM Qwen2.5-32B on H100 NVL) sit near 40%
    # of the bandwidth roofline, while their batch-8+ figures imply ~80%: low-precision GEMMs with a
    # handful of rows cannot use their tiles, so efficiency climbs with the tokens in the step.
    low_precision_efficiency_batch1: float = 0.45
    low_precision_efficiency_batched: float = 0.80
    low_precision_full_batch: int = 16
    compute_efficiency: float = 0.55  # model FLOPs utilisation of prefill GEMMs
    step_overhead_s: float = 0.0005  # scheduling, sampling and detokenizing one step
    layer_overhead_s: float = 0.000012  # per layer and step: launches and small kernels
    allreduce_latency_s: float = 0.000010  # per all-reduce on NVLink-class links
    pcie_allreduce_latency_s: float = 0.000030
    weight_expansion: float = 1.02  # KAITO: loaded weights are ~2% larger than the files
    overhead_per_gpu_gib: float = 2.3  # KAITO: non-torch memory, activations, CUDA graphs


@dataclass(frozen=True)
class StepShape:
    """What one step computes: prefill tokens, decode sequences and attention work."""

    prefill_tokens: int = 0
    decode_seqs: int = 0
    context_tokens: int = 0  # KV entries read by attention across the batch
    attention_pairs: float = 0.0  # sum over scheduled tokens of the context each attends to


class PerformanceModel:
    """Step time and KV capacity for one (model, GPU SKU, GPU count) engine."""

    def __init__(
        self,
        model: ModelInfo,
        gpu: GpuInfo,
        gpus: int = 1,
        *,
        quantization: Quantization = None,
        kv_cache_dtype: Literal["auto", "fp8"] = "auto",
        gpu_memory_utilization: float | None = None,
        constants: RooflineConstants | None = None,
    ) -> None:
        if gpus < 1:
            raise ValueError(f"engine {model.name}: gpus must be >= 1, got {gpus}")
        self.model = model
        self.gpu = gpu
        self.gpus = gpus
        self.c = constants or RooflineConstants()
        self.weight_dtype = (
            "fp8" if quantization == "fp8" and model.dtype in ("bf16", "fp16") else model.dtype
        )
        self.weight_bytes = model.weight_bytes * DTYPE_BYTES[self.weight_dtype] / DTYPE_BYTES[model.dtype]
        self.kv_bytes_per_token = model.kv_bytes_per_token(1.0 if kv_cache_dtype == "fp8" else 2.0)
        self.gpu_memory_utilization = gpu_memory_utilization or gpu.gpu_memory_utilization
        low_precision = DTYPE_BYTES[self.weight_dtype] <= 1.0
        self.peak_flops = (gpu.fp8_tflops if low_precision and gpu.fp8_tflops else gpu.bf16_tflops) * 1e12
        self._bw = gpu.memory_bandwidth_gbs * 1e9
        self._low_precision = low_precision
        self._active_fraction = (model.active_parameters_b or model.parameters_b) / model.parameters_b
        self._active_params = (model.active_parameters_b or model.parameters_b) * 1e9
        nvlink = gpu.interconnect.kind.startswith(("nvlink", "infinity"))
        self._ar_latency = self.c.allreduce_latency_s if nvlink else self.c.pcie_allreduce_latency_s
        self._link_bytes_per_s = gpu.interconnect.bandwidth_gbs * 1e9 / 2  # one direction
        self.kv_capacity_tokens = self._kv_capacity()

    def _kv_capacity(self) -> int:
        usable = self.gpus * self.gpu.memory_gib * GIB * self.gpu_memory_utilization
        reserved = self.weight_bytes * self.c.weight_expansion + self.gpus * self.c.overhead_per_gpu_gib * GIB
        free = usable - reserved
        if free <= self.kv_bytes_per_token * 16:
            raise ModelDoesNotFitError(
                f"model {self.model.name} ({self.weight_bytes / GIB:.1f} GiB of weights) does not fit on "
                f"{self.gpus} x {self.gpu.name} ({self.gpu.memory_gib:g} GiB each at utilization "
                f"{self.gpu_memory_utilization:g}); raise --gpus or pick a GPU with more memory"
            )
        return int(free // self.kv_bytes_per_token)

    def num_blocks(self, block_size: int) -> int:
        return self.kv_capacity_tokens // block_size

    def weights_read(self, tokens: int) -> float:
        """Weight bytes streamed in one step: all of a dense model; the touched experts of an MoE."""
        if self._active_fraction >= 1.0:
            return self.weight_bytes
        touched = 1.0 - (1.0 - self._active_fraction) ** max(tokens, 1)
        return self.weight_bytes * touched

    def weight_efficiency(self, tokens: int) -> float:
        """Fraction of peak bandwidth the weight GEMMs reach with ``tokens`` rows."""
        if not self._low_precision:
            return self.c.bandwidth_efficiency_16bit
        lo, hi = self.c.low_precision_efficiency_batch1, self.c.low_precision_efficiency_batched
        ramp = min(1.0, (max(tokens, 1) - 1) / (self.c.low_precision_full_batch - 1))
        return lo + (hi - lo) * ramp

    def step_time(self, shape: StepShape) -> float:
        """Seconds one engine step takes for this batch."""
        tokens = shape.prefill_tokens + shape.decode_seqs
        if tokens <= 0:
            return 0.0
        g = self.gpus
        weight_s = self.weights_read(tokens) / (g * self._bw * self.weight_efficiency(tokens))
        kv_s = (
            shape.context_tokens
            * self.kv_bytes_per_token
            / (g * self._bw * self.c.bandwidth_efficiency_16bit)
        )
        m = self.model
        attn_flops = 4.0 * m.layers * m.attention_heads * m.head_dim * shape.attention_pairs
        flops = 2.0 * self._active_params * tokens + attn_flops
        compute_s = flops / (g * self.peak_flops * self.c.compute_efficiency)
        comm_s = 0.0
        if g > 1:
            payload = tokens * m.hidden_size * 2.0 * 2.0 * (g - 1) / g
            comm_s = 2 * m.layers * (self._ar_latency + payload / self._link_bytes_per_s)
        overhead = self.c.step_overhead_s + m.layers * self.c.layer_overhead_s
        return max(weight_s + kv_s, compute_s) + comm_s + overhead

    def decode_roofline_tokens_per_s(self, context: int = 0) -> float:
        """The physical batch-1 decode ceiling: all bandwidth, no overheads, no communication."""
        per_token = self.weights_read(1) + context * self.kv_bytes_per_token
        return self.gpus * self._bw / per_token
