"""The first phases of a reconcile: parse the spec, resolve the model, size a replica.

Each raises :class:`SpecError` (a reason and a message naming the field and the fix) for what cannot be
served as written; the reconciler turns it into the Sized condition and leaves running pods alone.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from infleet.api.aitoolchain_io.v1.model_deployment import MemoryBudget, ModelDeploymentSpec, Sizing
from infleet.api.catalog import Catalog, CatalogError, ModelInfo
from infleet.api.offerings import Offering
from infleet.api.sizing import SizingError, request_for, size, to_status
from infleet.models import engines


class SpecError(Exception):
    """The spec cannot be served as written: (reason, message) for the Sized condition."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_spec(obj: dict[str, Any]) -> ModelDeploymentSpec:
    """The typed spec; rules the CRD schema cannot express (minReplicas <= maxReplicas) are checked here."""
    try:
        return ModelDeploymentSpec.model_validate(obj.get("spec") or {})
    except ValidationError as error:
        first = error.errors()[0]
        path = "spec." + ".".join(str(part) for part in first["loc"])
        raise SpecError("InvalidSpec", f"{path}: {first['msg']}; fix the field and apply again") from error


def resolve_model(catalog: Catalog, spec: ModelDeploymentSpec) -> ModelInfo | None:
    """The catalog entry, or None for an uncatalogued ``hf:`` model whose GPUs the user gave."""
    try:
        return catalog.model(spec.model.removeprefix("hf:"))
    except CatalogError as error:
        if spec.model.startswith("hf:") and spec.resources is not None and spec.resources.gpu:
            return None
        raise SpecError(
            "UnknownModel", f"spec.model: {error}; or give hf:org/name together with spec.resources.gpu"
        ) from error


def size_replica(
    spec: ModelDeploymentSpec,
    model: ModelInfo | None,
    offerings: list[Offering],
    previous: dict[str, Any] | None,
    replicas: int | None = None,
) -> Sizing:
    """status.sizing for the spec; ``previous`` (the last status.sizing) is kept while it still fits.

    ``replicas`` is the count that runs (the autoscaler's, when it owns it); spec.replicas by default.
    """
    if model is None:
        return user_sized(spec, offerings)
    request = request_for(spec, model, replicas)
    sticky: tuple[str, int, int] | None = None
    if previous and previous.get("model") == model.name:
        shape = (previous.get("tensorParallel") or 1, previous.get("pipelineParallel") or 1)
        sticky = (str(previous.get("sku")), int(shape[0]), int(shape[1]))
    try:
        plan = size(request, offerings, sticky)
    except SizingError as error:
        raise SpecError("DoesNotFit", str(error)) from error
    if plan.nodes > 1 and spec.engine not in engines.MULTI_NODE:
        raise SpecError(
            "EngineUnsupported",
            f"spec.engine: {spec.engine} cannot span nodes, and {model.name} needs {plan.nodes} nodes of "
            f"{plan.offering.gpus_per_node} x {plan.offering.gpu.name}; use engine vllm or sglang",
        )
    return to_status(plan, model.name)


def user_sized(spec: ModelDeploymentSpec, offerings: list[Offering]) -> Sizing:
    """An uncatalogued model on the GPUs the user asked for: the cheapest node type with that many."""
    assert spec.resources is not None
    assert spec.resources.gpu is not None
    gpus = spec.resources.gpu
    wanted = {s.upper() for s in spec.resources.gpu_skus or ()}
    offers = [
        o for o in offerings if o.gpus_per_node >= gpus and (not wanted or o.gpu.name.upper() in wanted)
    ]
    if not offers:
        raise SpecError("DoesNotFit", f"spec.resources.gpu={gpus}: no GPU node offers that many GPUs")
    offer = min(offers, key=lambda o: (o.source != "cluster", o.gpu_price, o.gpu.name))
    return Sizing(
        model=spec.model,
        sku=offer.gpu.name,
        gpus_per_replica=gpus,
        gpus_per_node=gpus,
        tensor_parallel=gpus,
        max_model_len=(spec.engine_args.max_model_len or 0) if spec.engine_args else 0,
        kv_cache_tokens=0,
        kv_bytes_per_token=0,
        memory=MemoryBudget(per_gpu_gib=offer.gpu.memory_gib, weights_gib=0, overhead_gib=0, kv_cache_gib=0),
        cost_per_hour=round(gpus * offer.gpu_price, 4),
        source=offer.source,
        instance_type=offer.instance_type,
        node_selector=dict(offer.node_selector) or None,
        reason=f"not in the catalog: {gpus} x {offer.gpu.name} as spec.resources.gpu asks, unsized",
    )
