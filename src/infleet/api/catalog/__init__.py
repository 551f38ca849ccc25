"""The model, GPU and instance-type catalog, shipped as package data (``models.yaml``, ``gpus.yaml``,
``instance_types.yaml``).

The simulated engine reads it for its performance model, the model layer for sizing and the simulated
clusters for their nodes. Call ``load_catalog()``; it parses the YAML once per process and returns
typed, validated records.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

GIB = 1024**3

#: Bytes per weight or KV element for each dtype the catalog uses (mxfp4 counts its block scales).
DTYPE_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "mxfp4": 0.53,
    "int4": 0.5,
    "awq": 0.5,
}

Dtype = Literal["fp32", "bf16", "fp16", "fp8", "int8", "mxfp4", "int4", "awq"]


class CatalogError(ValueError):
    """A catalog lookup or entry is wrong; the message names the entry and the fix."""


class ModelInfo(BaseModel):
    """One open model: architecture figures from its public config and its size on disk."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Hugging Face id, e.g. meta-llama/Llama-3.1-8B-Instruct")
    family: str
    parameters_b: float = Field(gt=0, description="total parameters, billions")
    active_parameters_b: float | None = Field(default=None, gt=0, description="MoE: parameters per token")
    layers: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    attention_heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    context_length: int = Field(gt=0)
    dtype: Dtype
    size_on_disk_gib: float = Field(gt=0)
    weights_gib: float | None = Field(
        default=None, gt=0, description="GPU-resident weights if not the disk size"
    )
    vocab_size: int = Field(gt=0, description="rows of the embedding table and of the LM head")
    tie_word_embeddings: bool = Field(default=False, description="the LM head shares the embedding table")
    experts: int | None = Field(default=None, gt=1, description="MoE: routed experts per layer")
    experts_per_token: int | None = Field(
        default=None, gt=0, description="MoE: experts each token is routed to"
    )
    kv_lora_rank: int | None = Field(default=None, gt=0, description="MLA only")
    qk_rope_head_dim: int | None = Field(default=None, gt=0, description="MLA only")

    @model_validator(mode="after")
    def _check(self) -> ModelInfo:
        if self.active_parameters_b is not None and self.active_parameters_b > self.parameters_b:
            raise ValueError(f"model {self.name}: active_parameters_b exceeds parameters_b")
        moe_fields = (self.active_parameters_b, self.experts, self.experts_per_token)
        if any(f is None for f in moe_fields) and any(f is not None for f in moe_fields):
            raise ValueError(
                f"model {self.name}: an MoE model sets active_parameters_b, experts and experts_per_token"
            )
        if self.experts and self.experts_per_token and self.experts_per_token >= self.experts:
            raise ValueError(f"model {self.name}: experts_per_token must be below experts")
        if (self.kv_lora_rank is None) != (self.qk_rope_head_dim is None):
            raise ValueError(f"model {self.name}: set both kv_lora_rank and qk_rope_head_dim, or neither")
        return self

    @property
    def served_name(self) -> str:
        """vLLM/KAITO convention: the lower-cased last segment of the Hugging Face id."""
        return self.name.rsplit("/", 1)[-1].lower()

    @property
    def is_moe(self) -> bool:
        return self.active_parameters_b is not None

    @property
    def attention(self) -> Literal["MHA", "GQA", "MQA", "MLA"]:
        if self.kv_lora_rank is not None:
            return "MLA"
        if self.kv_heads == self.attention_heads:
            return "MHA"
        return "MQA" if self.kv_heads == 1 else "GQA"

    @property
    def weight_bytes(self) -> float:
        """Bytes of weights held in GPU memory (all shards together)."""
        return (self.weights_gib if self.weights_gib is not None else self.size_on_disk_gib) * GIB

    def kv_bytes_per_token(self, kv_dtype_bytes: float = 2.0) -> int:
        """KV-cache bytes per token across all layers (reference: inference-engines.md §4)."""
        if self.kv_lora_rank is not None and self.qk_rope_head_dim is not None:
            per_layer = self.kv_lora_rank + self.qk_rope_head_dim
        else:
            per_layer = 2 * self.kv_heads * self.head_dim
        return int(per_layer * self.layers * kv_dtype_bytes)


class Interconnect(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    bandwidth_gbs: float = Field(gt=0, description="per GPU, bidirectional, GB/s")


class GpuInfo(BaseModel):
    """One GPU SKU: memory, bandwidth, dense tensor throughput, interconnect and a typical price."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    vendor: Literal["nvidia", "amd"]
    memory_gib: float = Field(gt=0)
    memory_bandwidth_gbs: float = Field(gt=0)
    bf16_tflops: float = Field(gt=0, description="dense, without sparsity")
    fp8_tflops: float | None = Field(default=None, gt=0, description="dense; None when unsupported")
    fp4_tflops: float | None = Field(
        default=None, gt=0, description="dense FP4/MXFP4 tensor cores; None when 4-bit weights are upcast"
    )
    compute_capability: str | None = None
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    host_cpu_slowdown: float = Field(
        default=1.0,
        ge=1.0,
        description="engine host CPU time relative to an H100 node: older GPUs ship in nodes with older CPUs",
    )
    interconnect: Interconnect
    price_per_gpu_hour: float = Field(gt=0, description="USD")
    price_source: str

    @property
    def supports_fp8(self) -> bool:
        return self.fp8_tflops is not None


class InstanceType(BaseModel):
    """One cloud instance shape with GPUs: the SKU and how many GPUs each node carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="the cloud's instance type, e.g. p5.48xlarge")
    cloud: Literal["aws", "azure", "gcp", "coreweave", "onprem"]
    gpu: str = Field(description="catalog GPU SKU")
    gpus: int = Field(gt=0, description="GPUs per node")
    provisionable: bool = Field(default=False, description="offered by the compute layer on demand")
    price_per_hour: float | None = Field(
        default=None, gt=0, description="USD per node; else GPUs x SKU price"
    )


class Catalog(BaseModel):
    """All models, GPU SKUs and instance types, with lookups that accept common spellings."""

    model_config = ConfigDict(frozen=True)

    models: tuple[ModelInfo, ...]
    gpus: tuple[GpuInfo, ...]
    instance_types: tuple[InstanceType, ...] = ()

    @model_validator(mode="after")
    def _check_instance_types(self) -> Catalog:
        known = {gpu.name for gpu in self.gpus}
        seen: set[str] = set()
        for shape in self.instance_types:
            if shape.gpu not in known:
                raise ValueError(f"instance type {shape.name}: gpu {shape.gpu!r} is not a catalog GPU SKU")
            if shape.name in seen:
                raise ValueError(f"instance type {shape.name} is listed twice; keep one entry")
            seen.add(shape.name)
        return self

    def instance_type(self, name: str) -> InstanceType:
        """Find an instance type by its cloud name (exact, as the cloud spells it)."""
        for shape in self.instance_types:
            if shape.name == name:
                return shape
        raise CatalogError(
            f"instance type {name!r} is not in the catalog; add it to infleet/api/catalog/instance_types.yaml"
        )

    def model(self, name: str) -> ModelInfo:
        """Find a model by Hugging Face id or served name (case-insensitive)."""
        wanted = name.strip().lower()
        for info in self.models:
            if wanted in (info.name.lower(), info.served_name):
                return info
        raise CatalogError(
            f"model {name!r} is not in the catalog; use a Hugging Face id or served name from "
            f"infleet/api/catalog/models.yaml, e.g. {self.models[0].name!r}"
        )

    def gpu(self, name: str) -> GpuInfo:
        """Find a GPU SKU by name, ignoring case, spaces, dashes and underscores."""
        wanted = _squash(name)
        aliases = {"A100": "A100-80GB", "H100SXM": "H100", "H200SXM": "H200", "A10080G": "A100-80GB"}
        wanted = _squash(aliases.get(wanted, wanted))
        for info in self.gpus:
            if _squash(info.name) == wanted:
                return info
        names = ", ".join(g.name for g in self.gpus)
        raise CatalogError(f"GPU SKU {name!r} is not in the catalog; pick one of: {names}")


def _squash(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def _read(filename: str) -> object:
    return yaml.safe_load(resources.files(__package__).joinpath(filename).read_text(encoding="utf-8"))


@functools.cache
def load_catalog() -> Catalog:
    """Parse and validate the packaged catalog (cached: the files never change at run time)."""
    sections: dict[str, object] = {}
    for key in ("models", "gpus", "instance_types"):
        content = _read(f"{key}.yaml")
        if not isinstance(content, dict):
            raise CatalogError(f"catalog file {key}.yaml must be a mapping with a {key!r} list")
        sections[key] = content.get(key, [])
    return Catalog.model_validate(sections)


__all__ = [
    "DTYPE_BYTES",
    "GIB",
    "Catalog",
    "CatalogError",
    "GpuInfo",
    "InstanceType",
    "Interconnect",
    "ModelInfo",
    "load_catalog",
]
