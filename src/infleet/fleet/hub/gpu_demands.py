"""The GPU demands of a placement: every ModelDeployment in its latest resource snapshot, sized through
the same ``api.sizing`` request the member's models controller uses, so the hub only picks clusters the
member can size onto. Objects that are not ModelDeployments ask for no GPUs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT, ModelDeploymentSpec
from infleet.api.catalog import Catalog, CatalogError
from infleet.api.sizing import request_for
from infleet.scheduling.placement import GpuDemand


def gpu_demands(catalog: Catalog, manifests: Iterable[dict[str, Any]]) -> tuple[GpuDemand, ...]:
    demands = []
    for manifest in manifests:
        if (
            manifest.get("kind") != MODEL_DEPLOYMENT.kind
            or manifest.get("apiVersion") != MODEL_DEPLOYMENT.api_version
        ):
            continue
        try:
            spec = ModelDeploymentSpec.model_validate(manifest.get("spec") or {})
            model = catalog.model(spec.model.removeprefix("hf:"))
        except (ValidationError, CatalogError):
            continue  # the member's controller reports what is wrong with it; the hub cannot size it
        replicas = spec.replicas
        if spec.autoscaling is not None:
            replicas = max(replicas, spec.autoscaling.min_replicas)
        metadata = manifest.get("metadata") or {}
        name = f"{metadata.get('namespace', '')}/{metadata.get('name', '')}".lstrip("/")
        demands.append(
            GpuDemand(name=name, sizing=request_for(spec, model, replicas), replicas=max(replicas, 1))
        )
    return tuple(demands)
