"""Sizing: choose GPU SKU, GPUs per replica, tensor/pipeline parallelism and max model length.

Memory rule (per GPU, KAITO's constants without its 2,048-token context): usable = memory x utilization;
weights = weights_gib x 1.02 / GPUs; overhead = 2.3 GiB; the rest holds the KV cache. A shape fits when
the KV cache of all GPUs holds ``required_len`` tokens (the user's maxModelLen, else min(context, 8192)).
Among fitting shapes the cheapest per hour wins: cluster nodes before provisionable ones, node types
that hold every replica before those that cannot, single-node before multi-node. The reconciler's
sizing phase calls :func:`size`; the numbers go to status.sizing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from infleet.api.aitoolchain_io.v1.model_deployment import MemoryBudget, ModelDeploymentSpec, Sizing
from infleet.api.catalog import GIB, ModelInfo
from infleet.api.offerings import Offering

WEIGHT_EXPANSION = 1.02
OVERHEAD_GIB = 2.3
DEFAULT_REQUIRED_LEN = 8192
MAX_NODES_PER_REPLICA = 4
TP_SIZES = (1, 2, 4, 8, 16)


class SizingError(ValueError):
    """No shape fits; the message names the field, the numbers and the fix."""


@dataclass(frozen=True)
class SizingRequest:
    model: ModelInfo
    gpus: int | None = None
    skus: tuple[str, ...] = ()
    instance_type: str | None = None
    max_model_len: int | None = None
    quantization: str | None = None
    gpu_memory_utilization: float | None = None
    replicas: int = 1
    kv_cache_dtype: str | None = None  # vLLM's --kv-cache-dtype: an fp8 cache holds twice the tokens

    @property
    def kv_bytes_per_token(self) -> int:
        return self.model.kv_bytes_per_token(1.0 if (self.kv_cache_dtype or "").startswith("fp8") else 2.0)


def request_for(spec: ModelDeploymentSpec, model: ModelInfo, replicas: int | None = None) -> SizingRequest:
    """What a ModelDeployment asks of sizing; the models controller and the fleet's GPU-fit filter both
    size through this, so a cluster the hub picks is one the member's controller can size onto.
    ``replicas`` is the count that runs (the autoscaler's, when it owns it); spec.replicas by default."""
    resources, args = spec.resources, spec.engine_args
    return SizingRequest(
        model=model,
        gpus=resources.gpu if resources else None,
        skus=tuple(resources.gpu_skus or ()) if resources else (),
        instance_type=resources.instance_type if resources else None,
        max_model_len=args.max_model_len if args else None,
        quantization=args.quantization if args else None,
        gpu_memory_utilization=args.gpu_memory_utilization if args else None,
        replicas=max(spec.replicas if replicas is None else replicas, 1),
        kv_cache_dtype=args.kv_cache_dtype if args else None,
    )


@dataclass(frozen=True)
class Plan:
    """One replica's shape with its memory budget (GiB per GPU) and cost."""

    offering: Offering
    tensor_parallel: int
    pipeline_parallel: int
    utilization: float
    usable_gib: float
    weights_gib: float
    overhead_gib: float
    kv_cache_gib: float
    kv_bytes_per_token: int
    kv_cache_tokens: int
    max_model_len: int

    @property
    def gpus(self) -> int:
        return self.tensor_parallel * self.pipeline_parallel

    @property
    def nodes(self) -> int:
        return self.pipeline_parallel

    @property
    def capacity(self) -> int | None:
        """Replicas the offering's nodes can hold at once (None: provisionable, unbounded)."""
        if self.offering.source != "cluster":
            return None
        if self.nodes > 1:
            return self.offering.nodes // self.nodes
        return self.offering.nodes * (self.offering.gpus_per_node // self.tensor_parallel)

    @property
    def cost_per_hour(self) -> float:
        return round(self.gpus * self.offering.gpu_price, 4)

    def summary(self) -> str:
        nodes = f" on {self.nodes} nodes" if self.nodes > 1 else ""
        return (
            f"{self.gpus} x {self.offering.gpu.name}{nodes} (TP {self.tensor_parallel}, PP "
            f"{self.pipeline_parallel}): {self.weights_gib:.1f} GiB weights + {self.overhead_gib:.1f} GiB "
            f"overhead of {self.usable_gib:.1f} GiB usable per GPU leaves {self.kv_cache_gib:.1f} GiB KV "
            f"({self.kv_cache_tokens} tokens); max model length {self.max_model_len}; "
            f"${self.cost_per_hour:.2f}/h per replica"
        )


def weights_gib(model: ModelInfo, quantization: str | None) -> float:
    """GPU-resident weights; fp8 quantization at load time halves 16-bit weights."""
    size = model.weight_bytes / GIB
    if quantization == "fp8" and model.dtype in ("bf16", "fp16", "fp32"):
        size *= 1.0 / (4.0 if model.dtype == "fp32" else 2.0)
    return size


def required_len(request: SizingRequest) -> int:
    if request.max_model_len is not None:
        return request.max_model_len
    return min(request.model.context_length, DEFAULT_REQUIRED_LEN)


def plan(request: SizingRequest, offering: Offering, tp: int, pp: int) -> Plan:
    """The memory budget of ``tp`` x ``pp`` GPUs of ``offering`` (a plan whose KV may not fit)."""
    model = request.model
    utilization = request.gpu_memory_utilization or offering.gpu.gpu_memory_utilization
    gpus = tp * pp
    usable = offering.gpu.memory_gib * utilization
    weights = weights_gib(model, request.quantization) * WEIGHT_EXPANSION / gpus
    kv_gib = usable - weights - OVERHEAD_GIB
    per_token = request.kv_bytes_per_token
    # Tensor parallelism splits KV heads; past the KV head count (or with MLA's shared latent) it copies them.
    copies = tp if model.attention == "MLA" else max(1, tp // model.kv_heads)
    tokens = max(0, math.floor(gpus * kv_gib * GIB / (per_token * copies))) if kv_gib > 0 else 0
    if request.max_model_len is not None:
        max_len = request.max_model_len
    elif tokens >= model.context_length:
        max_len = model.context_length
    else:
        max_len = tokens // 1024 * 1024
    return Plan(
        offering, tp, pp, utilization, usable, weights, OVERHEAD_GIB, kv_gib, per_token, tokens, max_len
    )


def fits(request: SizingRequest, candidate: Plan) -> bool:
    return candidate.kv_cache_gib > 0 and candidate.kv_cache_tokens >= required_len(request)


def shapes(request: SizingRequest, offering: Offering) -> list[tuple[int, int]]:
    """(tp, pp) pairs an offering can host: TP inside a node dividing the attention heads, PP across nodes."""
    heads = request.model.attention_heads
    per_node = offering.gpus_per_node
    if request.gpus is not None:
        if request.gpus <= per_node:
            return [(request.gpus, 1)] if heads % request.gpus == 0 else []
        if request.gpus % per_node == 0 and heads % per_node == 0:
            return [(per_node, request.gpus // per_node)]
        return []
    single = [(tp, 1) for tp in TP_SIZES if tp <= per_node and heads % tp == 0]
    multi = [(per_node, pp) for pp in range(2, MAX_NODES_PER_REPLICA + 1) if heads % per_node == 0]
    return single + multi


def _eligible(request: SizingRequest, offerings: Iterable[Offering]) -> list[Offering]:
    wanted = {sku.upper().replace("_", "-") for sku in request.skus}
    out = []
    for offering in offerings:
        if wanted and offering.gpu.name.upper() not in wanted:
            continue
        if request.instance_type and offering.instance_type not in (None, request.instance_type):
            continue
        if request.instance_type and offering.source == "cluster" and offering.instance_type is None:
            continue
        out.append(offering)
    return out


def candidates(request: SizingRequest, offerings: Iterable[Offering]) -> list[Plan]:
    """Every fitting plan, best first."""
    found = []
    for offering in _eligible(request, offerings):
        for tp, pp in shapes(request, offering):
            if offering.source == "cluster" and pp > offering.nodes:
                continue
            candidate = plan(request, offering, tp, pp)
            if fits(request, candidate):
                found.append(candidate)
    return sorted(found, key=lambda candidate: _rank(candidate, request.replicas))


def _rank(candidate: Plan, replicas: int) -> tuple[object, ...]:
    capacity = candidate.capacity
    return (
        candidate.offering.source != "cluster",
        capacity is not None and capacity < replicas,  # nodes present that hold every replica first
        candidate.nodes > 1,
        candidate.cost_per_hour,
        candidate.gpus,
        -candidate.offering.gpu.memory_bandwidth_gbs,
        candidate.offering.gpu.name,
        candidate.offering.gpus_per_node,
    )


def size(
    request: SizingRequest, offerings: Sequence[Offering], previous: tuple[str, int, int] | None = None
) -> Plan:
    """The best plan; ``previous`` (sku, tp, pp) is kept while it still fits, so sizing does not flap."""
    found = candidates(request, offerings)
    if found:
        if previous is not None:
            for candidate in found:
                key = (candidate.offering.gpu.name, candidate.tensor_parallel, candidate.pipeline_parallel)
                if key == previous and candidate.offering.source == found[0].offering.source:
                    return candidate
        return found[0]
    raise SizingError(_explain(request, offerings))


def _explain(request: SizingRequest, offerings: Sequence[Offering]) -> str:
    model = request.model
    need = weights_gib(model, request.quantization) * WEIGHT_EXPANSION
    kv_need = required_len(request) * request.kv_bytes_per_token / GIB
    head = (
        f"{model.name} needs {need:.1f} GiB of weights ({need / WEIGHT_EXPANSION:.2f} GiB x 1.02), "
        f"{OVERHEAD_GIB} GiB overhead per GPU and {kv_need:.2f} GiB of KV cache for "
        f"{required_len(request)} tokens"
    )
    eligible = _eligible(request, offerings)
    constraint = []
    if request.gpus is not None:
        constraint.append(f"spec.resources.gpu={request.gpus}")
    if request.skus:
        constraint.append(f"spec.resources.gpuSkus={list(request.skus)}")
    if request.instance_type:
        constraint.append(f"spec.resources.instanceType={request.instance_type}")
    if request.max_model_len is not None:
        constraint.append(f"spec.engineArgs.maxModelLen={request.max_model_len}")
    if not eligible:
        return f"{head}; no GPU nodes match {', '.join(constraint) or 'the request'}; remove or widen it"
    tried: list[str] = []
    seen: set[tuple[str, int]] = set()
    for offering in eligible:
        for tp, pp in shapes(request, offering)[-1:]:
            attempt = plan(request, offering, tp, pp)
            if (offering.gpu.name, attempt.gpus) in seen or len(seen) >= 4:
                continue
            seen.add((offering.gpu.name, attempt.gpus))
            tried.append(
                f"{attempt.gpus} x {offering.gpu.name} give {attempt.usable_gib:.1f} GiB usable per GPU "
                f"({offering.gpu.memory_gib:g} GiB x {attempt.utilization:.2f}), "
                f"{attempt.kv_cache_tokens} KV tokens"
            )
    relaxed = candidates(replace(request, gpus=None, skus=(), instance_type=None), offerings)
    if relaxed:
        best = relaxed[0]
        fix = (
            f"; it fits on {best.gpus} x {best.offering.gpu.name} (${best.cost_per_hour:.2f}/h): set "
            f"spec.resources.gpu to {best.gpus} or remove {', '.join(constraint) or 'the constraints'}"
        )
    else:
        fix = "; no offered GPU fits it: lower spec.engineArgs.maxModelLen or set engineArgs.quantization"
    detail = "; ".join(tried) if tried else "no offered node shape can split it (attention heads)"
    return f"{head}; {detail}{fix}"


def to_status(candidate: Plan, model_name: str) -> Sizing:
    """The plan as ``status.sizing``."""
    offering = candidate.offering
    return Sizing(
        model=model_name,
        sku=offering.gpu.name,
        gpus_per_replica=candidate.gpus,
        nodes_per_replica=candidate.nodes,
        gpus_per_node=candidate.tensor_parallel if candidate.nodes == 1 else offering.gpus_per_node,
        tensor_parallel=candidate.tensor_parallel,
        pipeline_parallel=candidate.pipeline_parallel,
        max_model_len=candidate.max_model_len,
        kv_cache_tokens=candidate.kv_cache_tokens,
        kv_bytes_per_token=candidate.kv_bytes_per_token,
        memory=MemoryBudget(
            per_gpu_gib=round(candidate.usable_gib, 2),
            weights_gib=round(candidate.weights_gib, 2),
            overhead_gib=round(candidate.overhead_gib, 2),
            kv_cache_gib=round(candidate.kv_cache_gib, 2),
        ),
        cost_per_hour=candidate.cost_per_hour,
        source=offering.source,
        instance_type=offering.instance_type,
        node_selector=dict(offering.node_selector) or None,
        reason=candidate.summary(),
    )
