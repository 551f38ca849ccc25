"""What a NodePool can launch for a batch: each instance type its node class offers, narrowed to the
offerings (cloud, region, zone, capacity type) the pool's requirements allow and that are available,
priced at the cheapest of them. Packing filters these per pod (selectors, fit, limits).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from infleet.api.karpenter_sh.v1.node_template import NodeSelectorRequirement
from infleet.api.labels import (
    CAPACITY_TYPE_LABEL,
    CLOUD_LABEL,
    GPU_COUNT_LABEL,
    GPU_PRODUCT_LABEL,
    GPU_SKU_LABEL,
    INSTANCE_TYPE_LABEL,
    REGION_LABEL,
    ZONE_LABEL,
)
from infleet.api.offerings import gfd_product
from infleet.compute.cloudprovider.provider import InstanceType, Offering
from infleet.compute.provisioner.pod_shape import Resources
from infleet.compute.provisioner.requirements import all_match


@dataclass(frozen=True)
class Candidate:
    """One instance type a pool may launch, with the offerings still allowed and its cheapest price."""

    instance_type: InstanceType
    labels: dict[str, str]
    offerings: tuple[Offering, ...]

    @property
    def name(self) -> str:
        return self.instance_type.name

    @property
    def price(self) -> float:
        return min(o.price_per_hour for o in self.offerings)

    @property
    def capacity(self) -> Resources:
        shape = self.instance_type
        return Resources(shape.gpus, shape.cpu * 1000 - 100, shape.memory_gib * 1024 - 512, 110)

    def in_region(self, region: str) -> Candidate | None:
        kept = tuple(o for o in self.offerings if o.region == region)
        return replace(self, offerings=kept) if kept else None

    def cheapest_region(self) -> str:
        return min(self.offerings, key=lambda o: o.price_per_hour).region

    def regions(self) -> set[str]:
        return {o.region for o in self.offerings}


def type_labels(shape: InstanceType) -> dict[str, str]:
    return {
        INSTANCE_TYPE_LABEL: shape.name,
        GPU_SKU_LABEL: shape.gpu_sku,
        GPU_COUNT_LABEL: str(shape.gpus),
        GPU_PRODUCT_LABEL: gfd_product(shape.gpu_sku),
    }


def offering_labels(offering: Offering) -> dict[str, str]:
    return {
        CLOUD_LABEL: offering.cloud,
        REGION_LABEL: offering.region,
        ZONE_LABEL: offering.zone,
        CAPACITY_TYPE_LABEL: offering.capacity_type,
    }


def allowed_capacity_types(requirements: list[NodeSelectorRequirement]) -> set[str]:
    """Karpenter launches on-demand unless the pool's requirements name spot."""
    for item in requirements:
        if item.key == CAPACITY_TYPE_LABEL and item.operator == "In":
            return set(item.values or [])
    return {"on-demand"}


def pool_candidates(
    instance_types: list[InstanceType],
    requirements: list[NodeSelectorRequirement],
    template_labels: dict[str, Any],
) -> list[Candidate]:
    """Candidates of one pool, cheapest first; types with no allowed, available offering drop out."""
    capacity_types = allowed_capacity_types(requirements)
    found = []
    for shape in instance_types:
        labels = {**{k: str(v) for k, v in template_labels.items()}, **type_labels(shape)}
        offerings = tuple(
            o
            for o in shape.offerings
            if o.available
            and o.capacity_type in capacity_types
            and all_match(requirements, {**labels, **offering_labels(o)})
        )
        if offerings:
            found.append(Candidate(shape, labels, offerings))
    return sorted(found, key=lambda c: (c.price, c.name))
