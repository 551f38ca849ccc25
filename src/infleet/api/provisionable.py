"""How many more GPUs of each SKU a cluster's NodePools could still provision: over the instance types
their FlexNodeClasses' clouds and regions offer (and their requirements allow), within each pool's
``nvidia.com/gpu`` limit less what it already holds. The member agent reports it as the per-SKU
``provisionable`` property, so the hub can place a model on a cluster that has no free GPU yet but can
get one. A pool without a GPU limit counts as ``UNBOUNDED`` (at least that many).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from infleet.api.catalog import Catalog
from infleet.api.clouds import class_offerings
from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FlexNodeClassSpec
from infleet.api.karpenter_sh.v1.node_pool import NodePoolSpec
from infleet.api.labels import GPU_RESOURCE, GPU_SKU_LABEL, INSTANCE_TYPE_LABEL
from infleet.api.quantity import parse_quantity

#: What a pool without a GPU limit reports: more than any one deployment asks of a cluster.
UNBOUNDED = 1024


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
        node_class = by_name.get(spec.template.spec.node_class_ref.name)
        room = _room(spec, pool.get("status") or {})
        if node_class is None or room <= 0:
            continue
        for sku in _skus(spec, node_class, catalog):
            totals[sku] = min(UNBOUNDED, totals.get(sku, 0) + room)
    return totals


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
