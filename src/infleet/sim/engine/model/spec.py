"""EngineSpec: everything that defines one simulated engine, as data.

Built by the ``engine-sim`` command from its flags and by callers of ``EngineHost.start`` (the
simulated kubelet turns a pod's engine arguments into one). Field names follow vLLM's flags.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EngineSpec(BaseModel):
    """One engine: model, GPUs and the vLLM serving options the simulation honours."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="catalog model: Hugging Face id or served name")
    gpu: str = Field(default="H100", description="catalog GPU SKU, e.g. H100, A100-80GB, L40S")
    gpus: int = Field(default=1, ge=1, le=64, description="tensor-parallel size")
    served_model_name: str | None = Field(
        default=None, description="default: lower-cased last segment of the id"
    )
    max_num_seqs: int = Field(default=256, ge=1)
    max_model_len: int | None = Field(default=None, ge=16, description="default: min(context, KV capacity)")
    max_num_batched_tokens: int = Field(default=8192, ge=16)
    block_size: int = Field(default=16, ge=1)
    gpu_memory_utilization: float | None = Field(default=None, gt=0.0, le=1.0)
    quantization: Literal["fp8"] | None = None
    kv_cache_dtype: Literal["auto", "fp8", "fp8_e4m3", "fp8_e5m2"] = Field(
        default="auto", description="KV-cache element type, as vLLM's --kv-cache-dtype; fp8 halves its bytes"
    )
    enable_chunked_prefill: bool = Field(
        default=True, description="off: prompts run whole in prefill-only steps while decodes wait"
    )
    async_scheduling: bool = Field(
        default=False, description="overlap the host's per-step work with the GPU (vLLM --async-scheduling)"
    )
    num_scheduler_steps: int = Field(
        default=1, ge=1, le=64, description="multi-step scheduling (vLLM V0): host work paid once per N steps"
    )
    enable_expert_parallel: bool = Field(
        default=False, description="MoE experts split over the GPUs, with all-to-all dispatch and combine"
    )
    enable_prefix_caching: bool = True
    enable_prompt_tokens_details: bool = Field(
        default=False,
        description="report usage.prompt_tokens_details.cached_tokens, as vLLM's flag of the same name",
    )
    max_waiting: int | None = Field(
        default=None,
        ge=0,
        description="429 once this many requests wait (KAITO guard); None queues without bound",
    )
    stream_interval: int = Field(
        default=1, ge=1, description="tokens per SSE chunk, as vLLM's --stream-interval"
    )
    stream_flush_interval_s: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="send a stream's tokens at most this often; the first token and the end go at once",
    )
    adaptive_streaming: bool = Field(
        default=True,
        description="coalesce tokens into fewer chunks while the host is busy (over 70% of a core) or late",
    )
    faults: str = Field(default="", description="fault spec, see infleet.sim.engine.runtime.faults")
    seed: int = 0
    version: str = Field(
        default="0.11.0", description="vLLM version imitated; before 0.8 the V0 engine's host costs apply"
    )
