"""Kernel efficiencies per engine, GPU vendor and the tensor-core format a weight dtype computes in.

A weight dtype is priced on the tensor cores the SKU really has: FP8 runs natively on Ada, Hopper,
Blackwell and MI300X but is upcast to 16-bit on Ampere (weight-only kernels); MXFP4 and other 4-bit
formats run natively only where the catalog lists FP4 tensor cores (Blackwell) and are upcast to
16-bit everywhere else (gpt-oss on H100 computes in BF16 and only reads 4-bit weights).

Each engine profile holds one efficiency per (vendor, format): the fraction of peak memory bandwidth
its weight GEMMs stream at, and the fraction of the format's tensor-core peak its large GEMMs reach.
Efficiencies are constants, not ramps over the batch, so a step never gets faster as it grows. The
figures are calibrated by ``benchmarks/engine_calibration.py``; ROCm kernels get their own figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from infleet.api.catalog import GpuInfo
from infleet.sim.engine.model.host_cost import HOST_COSTS, HostCost

Engine = Literal["vllm", "tensorrt-llm"]
Vendor = Literal["nvidia", "amd"]
#: How the weight GEMMs compute: on native tensor cores or upcast to 16-bit inside the kernel.
Format = Literal["16bit", "fp8", "fp8-upcast", "fp4", "4bit-upcast"]

_FOUR_BIT = frozenset({"mxfp4", "int4", "awq"})
_EIGHT_BIT = frozenset({"fp8", "int8"})


@dataclass(frozen=True)
class Efficiency:
    """What one kind of GEMM reaches: share of peak bandwidth (small batches), share of peak FLOPs (large)."""

    bandwidth: float
    compute: float


@dataclass(frozen=True)
class MoeEfficiency:
    """Grouped expert GEMMs and the kernels around them (routing, permutation), relative to dense GEMMs."""

    bandwidth_factor: float  # expert weights stream slower than dense ones (many small GEMMs)
    compute_factor: float  # grouped GEMMs reach less of the peak than one large GEMM
    tile_rows: int  # rows each touched expert's GEMM is padded to (few tokens per expert waste the tile)
    layer_overhead_s: float  # per MoE layer and step: top-k, sort/align, permute and combine kernels
    imbalance: float  # busiest expert-parallel rank over the mean, beyond random routing noise


@dataclass(frozen=True)
class EngineProfile:
    """One engine's kernels and fixed costs on one vendor's GPUs."""

    name: str
    vendor: Vendor
    efficiencies: dict[Format, Efficiency]
    kv_bandwidth: float  # paged-attention KV reads, share of peak bandwidth
    attention_compute: float  # share of the 16-bit peak prefill attention reaches
    layer_overhead_s: float  # per layer and step: launches, norms, rotary, small kernels
    low_precision_layer_overhead_s: float  # per layer and step: activation quantization, scales
    allreduce_latency_s: float  # per all-reduce on NVLink / Infinity Fabric
    pcie_allreduce_latency_s: float
    moe: MoeEfficiency
    host: HostCost = field(default_factory=HostCost)


def compute_format(weight_dtype: str, gpu: GpuInfo) -> tuple[Format, float]:
    """The format the weight GEMMs compute in on ``gpu`` and that format's dense peak (TFLOPS)."""
    if weight_dtype in _FOUR_BIT:
        if weight_dtype == "mxfp4" and gpu.fp4_tflops:
            return "fp4", gpu.fp4_tflops
        return "4bit-upcast", gpu.bf16_tflops
    if weight_dtype in _EIGHT_BIT:
        if gpu.fp8_tflops:
            return "fp8", gpu.fp8_tflops
        return "fp8-upcast", gpu.bf16_tflops
    return "16bit", gpu.bf16_tflops


_VLLM_NVIDIA: dict[Format, Efficiency] = {
    "16bit": Efficiency(bandwidth=0.87, compute=0.55),
    # vLLM's W8A8 GEMMs with a handful of rows stream well below the bandwidth roofline (published
    # batch-1 fp8 figures sit near half of it), and that holds at every batch size.
    "fp8": Efficiency(bandwidth=0.55, compute=0.50),
    "fp8-upcast": Efficiency(bandwidth=0.70, compute=0.45),  # Marlin weight-only FP8 on Ampere
    "fp4": Efficiency(bandwidth=0.70, compute=0.45),
    "4bit-upcast": Efficiency(bandwidth=0.60, compute=0.18),  # Marlin / MXFP4 dequantized to BF16
}
_VLLM_AMD: dict[Format, Efficiency] = {
    "16bit": Efficiency(bandwidth=0.62, compute=0.35),
    "fp8": Efficiency(bandwidth=0.55, compute=0.20),
    "fp8-upcast": Efficiency(bandwidth=0.50, compute=0.25),
    "fp4": Efficiency(bandwidth=0.50, compute=0.25),
    "4bit-upcast": Efficiency(bandwidth=0.45, compute=0.20),
}
_TRTLLM_NVIDIA: dict[Format, Efficiency] = {
    "16bit": Efficiency(bandwidth=0.90, compute=0.60),
    "fp8": Efficiency(bandwidth=0.82, compute=0.60),
    "fp8-upcast": Efficiency(bandwidth=0.75, compute=0.50),
    "fp4": Efficiency(bandwidth=0.80, compute=0.55),
    "4bit-upcast": Efficiency(bandwidth=0.70, compute=0.45),
}

_VLLM_MOE = MoeEfficiency(
    bandwidth_factor=0.90, compute_factor=1.0, tile_rows=16, layer_overhead_s=0.000070, imbalance=1.2
)
_VLLM_MOE_AMD = MoeEfficiency(
    bandwidth_factor=0.40, compute_factor=0.35, tile_rows=64, layer_overhead_s=0.000060, imbalance=1.2
)
_TRTLLM_MOE = MoeEfficiency(
    bandwidth_factor=0.50, compute_factor=0.40, tile_rows=32, layer_overhead_s=0.000020, imbalance=1.15
)


def engine_profile(engine: Engine, vendor: Vendor, version: str | None = None) -> EngineProfile:
    """Kernels and host costs of ``engine`` (vLLM at ``version``, default the V1 engine) on ``vendor``."""
    if engine == "tensorrt-llm":
        if vendor != "nvidia":
            raise ValueError("engine tensorrt-llm runs on NVIDIA GPUs only; use engine vllm on AMD")
        return EngineProfile(
            name="tensorrt-llm",
            vendor=vendor,
            efficiencies=dict(_TRTLLM_NVIDIA),
            kv_bandwidth=0.85,
            attention_compute=0.55,
            layer_overhead_s=0.000008,
            low_precision_layer_overhead_s=0.000002,
            allreduce_latency_s=0.000008,
            pcie_allreduce_latency_s=0.000025,
            moe=_TRTLLM_MOE,
            host=HOST_COSTS["tensorrt-llm"],
        )
    host = HOST_COSTS[vllm_generation(version)]
    if vendor == "amd":
        return EngineProfile(
            name="vllm-rocm",
            vendor=vendor,
            efficiencies=dict(_VLLM_AMD),
            kv_bandwidth=0.60,
            attention_compute=0.30,
            layer_overhead_s=0.000015,
            low_precision_layer_overhead_s=0.000005,
            allreduce_latency_s=0.000020,
            pcie_allreduce_latency_s=0.000040,
            moe=_VLLM_MOE_AMD,
            host=host,
        )
    return EngineProfile(
        name="vllm",
        vendor=vendor,
        efficiencies=dict(_VLLM_NVIDIA),
        kv_bandwidth=0.87,
        attention_compute=0.70,  # FlashAttention on long prompts
        layer_overhead_s=0.000012,
        low_precision_layer_overhead_s=0.000004,
        allreduce_latency_s=0.000010,
        pcie_allreduce_latency_s=0.000030,
        moe=_VLLM_MOE,
        host=host,
    )


def vllm_generation(version: str | None) -> str:
    """Which vLLM engine a version string runs: ``vllm-0.5`` (V0), ``vllm-0.6`` (V0) or ``vllm-v1``."""
    if not version:
        return "vllm-v1"
    parts = version.lstrip("v").split(".")
    try:
        major, minor = int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        raise ValueError(f"vLLM version {version!r} is not major.minor[.patch], e.g. 0.11.0") from None
    if (major, minor) < (0, 6):
        return "vllm-0.5"
    if (major, minor) < (0, 8):
        return "vllm-0.6"
    return "vllm-v1"
