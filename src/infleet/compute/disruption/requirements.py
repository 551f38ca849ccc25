"""Karpenter's node requirements (``key operator values``) checked against what an offering would make
a node's labels: instance type, capacity type, zone, region, cloud and GPU SKU. A key an offering does
not decide (a template label) is left to the template, so it never rules an offering out.
"""

from __future__ import annotations

from collections.abc import Iterable

from infleet.api.karpenter_sh.v1.node_template import NodeSelectorRequirement
from infleet.api.labels import (
    CAPACITY_TYPE_LABEL,
    CLOUD_LABEL,
    GPU_SKU_LABEL,
    INSTANCE_TYPE_LABEL,
    REGION_LABEL,
    ZONE_LABEL,
)
from infleet.compute.cloudprovider.provider import InstanceType, Offering


def offering_labels(instance_type: InstanceType, offering: Offering) -> dict[str, str]:
    return {
        INSTANCE_TYPE_LABEL: instance_type.name,
        CAPACITY_TYPE_LABEL: offering.capacity_type,
        ZONE_LABEL: offering.zone,
        REGION_LABEL: offering.region,
        CLOUD_LABEL: offering.cloud,
        GPU_SKU_LABEL: instance_type.gpu_sku,
    }


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compare(operator: str, value: str, bound: str) -> bool:
    left, right = _number(value), _number(bound)
    if left is None or right is None:
        return False
    return {"Gt": left > right, "Lt": left < right, "Gte": left >= right, "Lte": left <= right}[operator]


def satisfies(requirement: NodeSelectorRequirement, labels: dict[str, str]) -> bool:
    if requirement.key not in labels:
        return True
    value, values = labels[requirement.key], requirement.values or []
    match requirement.operator:
        case "In":
            return value in values
        case "NotIn":
            return value not in values
        case "Exists":
            return True
        case "DoesNotExist":
            return False
        case _:
            return bool(values) and _compare(requirement.operator, value, values[0])


def allows(requirements: Iterable[NodeSelectorRequirement], labels: dict[str, str]) -> bool:
    return all(satisfies(requirement, labels) for requirement in requirements)
