"""How many more GPUs of each SKU a cluster's NodePools could still provision: over the instance types
their FlexNodeClasses' clouds and regions offer (and their requirements allow), within each pool's
``nvidia.com/gpu`` limit less what it already holds. The member agent reports it as the per-SKU
``provisionable`` property, so the hub can place a model on a cluster that has no free GPU yet but can
get one. A pool without a GPU limit counts as ``UNBOUNDED`` (at least that many).

Karpenter's pools (a node class other than FlexNodeClass) count for the SKUs their requirements name, by
catalog instance type or GPU name; Infleet cannot know what else their cloud provider would launch. Static
pools (``spec.replicas``) and pools whose Ready condition is False provision nothing for pending pods
(Karpenter's provisioner skips them too; Infleet's compute layer marks its FlexNodeClass pools not Ready
when it runs in karpenter mode), so they count for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from infleet.api.catalog import Catalog, CatalogError
from infleet.api.clouds import class_offerings
from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FlexNodeClassSpec
from infleet.api.karpenter_sh.v1.node_pool import NodePoolSpec
from infleet.api.labels import (
    AWS_INSTANCE_GPU_NAME_LABEL,
    AZURE_SKU_GPU_NAME_LABEL,
    GPU_RESOURCE,
    GPU_SKU_LABEL,
    INSTANCE_TYPE_LABEL,
)
from infleet.api.pool_ownership import is_static, names_flex_node_class
from infleet.api.quantity import parse_quantity

#: What a pool without a GPU limit reports: more than any one deployment asks of a cluster.
UNBOUNDED = 1024
#: Karpenter providers' labels naming an instance type's GPU (values such as h100 or A100).
PROVIDER_GPU_NAME_LABELS = (AWS_INSTANCE_GPU_NAME_LABEL, AZURE_SKU_GPU_NAME_LABEL)


def provisionable_gpus(
    pools: Iterable[Mapping[str, Any]], classes: Iterable[Mapping[str, Any]], catalog: Catalog
) -> dict[str, int]:
    """GPUs each catalog SKU could still be provisioned with, summed over the pools that offer it."""
    by_name = {str((c.get("metadata") or {}).get("name")): c for c in classes}
    totals: dict[str, int] = {}
    for pool in pools:
        try:
            spec = NodePoolSpec.model_validate(pool.get("spec") or {})
        except ValidationError:
            continue
        status = pool.get("status") or {}
        room = _room(spec, status)
        if is_static(spec) or _not_ready(status) or room <= 0:
            continue
        ref = spec.template.spec.node_class_ref
        if names_flex_node_class(ref):
            node_class = by_name.get(ref.name)
            skus = set() if node_class is None else _skus(spec, node_class, catalog)
        else:
            skus = _named_skus(spec, catalog)
        for sku in skus:
            totals[sku] = min(UNBOUNDED, totals.get(sku, 0) + room)
    return totals


def _not_ready(status: Mapping[str, Any]) -> bool:
    # Only an explicit False: a pool whose status nobody wrote yet is still expected to provision.
    conditions = status.get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "False" for c in conditions)


def _room(spec: NodePoolSpec, status: Mapping[str, Any]) -> int:
    limit = (spec.limits or {}).get(GPU_RESOURCE)
    if limit is None:
        return UNBOUNDED
    used = (status.get("resources") or {}).get(GPU_RESOURCE, 0)
    return int(parse_quantity(limit) - parse_quantity(used))


def _skus(spec: NodePoolSpec, node_class: Mapping[str, Any], catalog: Catalog) -> set[str]:
    try:
        class_spec = FlexNodeClassSpec.model_validate(node_class.get("spec") or {})
    except ValidationError:
        return set()
    allowed = {
        r.key: set(r.values or ())
        for r in spec.template.spec.requirements or ()
        if r.operator == "In" and r.key in (INSTANCE_TYPE_LABEL, GPU_SKU_LABEL)
    }
    skus = set()
    for offering in class_offerings(catalog, class_spec):
        shape = offering.instance_type
        if shape.name in allowed.get(INSTANCE_TYPE_LABEL, {shape.name}) and shape.gpu in allowed.get(
            GPU_SKU_LABEL, {shape.gpu}
        ):
            skus.add(shape.gpu)
    return skus


def _named_skus(spec: NodePoolSpec, catalog: Catalog) -> set[str]:
    """The SKUs a Karpenter pool's ``In`` requirements pin down (every requirement must allow them)."""
    found: set[str] | None = None
    for requirement in spec.template.spec.requirements or ():
        if requirement.operator != "In":
            continue
        if requirement.key == INSTANCE_TYPE_LABEL:
            names = set(requirement.values or ())
            skus = {shape.gpu for shape in catalog.instance_types if shape.name in names}
        elif requirement.key == GPU_SKU_LABEL or requirement.key in PROVIDER_GPU_NAME_LABELS:
            skus = {sku for value in requirement.values or () if (sku := _catalog_gpu(catalog, value))}
        else:
            continue
        found = skus if found is None else found & skus
    return found or set()


def _catalog_gpu(catalog: Catalog, name: str) -> str | None:
    try:
        return catalog.gpu(name).name
    except CatalogError:
        return None
