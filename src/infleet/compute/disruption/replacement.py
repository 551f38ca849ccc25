"""The NodeClaim that replaces others. For consolidation and drift it is built from the NodePool's current
template (as Karpenter's scheduling simulation builds it), narrowed to the chosen offering and stamped
with the drift hashes, so a replacement never inherits the drift of what it replaces. For a spot reclaim
it keeps the old claim's requirements. Either way it is labelled with its pool and annotated with the
claims it replaces; the provisioning side's lifecycle launches it like any other NodeClaim.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Sequence
from typing import Any

from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FlexNodeClassSpec
from infleet.api.karpenter_sh.v1.group_version import API_VERSION
from infleet.api.karpenter_sh.v1.node_pool import NodePoolSpec
from infleet.api.labels import (
    CAPACITY_TYPE_LABEL,
    INSTANCE_TYPE_LABEL,
    NODECLASS_HASH_ANNOTATION,
    NODECLASS_LABEL,
    NODEPOOL_HASH_ANNOTATION,
    NODEPOOL_HASH_VERSION_ANNOTATION,
    NODEPOOL_LABEL,
    REGION_LABEL,
    REPLACES_ANNOTATION,
    TERMINATION_FINALIZER,
    ZONE_LABEL,
)
from infleet.compute.disruption.pricing import Option
from infleet.compute.drift_hash import drift_annotations

#: Labels a launch decides; a replacement gets its own.
_LAUNCH_LABELS = (INSTANCE_TYPE_LABEL, CAPACITY_TYPE_LABEL, ZONE_LABEL)
_HASHES = (NODEPOOL_HASH_ANNOTATION, NODEPOOL_HASH_VERSION_ANNOTATION, NODECLASS_HASH_ANNOTATION)


def _narrow(requirements: list[dict[str, Any]], decided: dict[str, str]) -> list[dict[str, Any]]:
    kept = [r for r in requirements if r.get("key") not in decided]
    return kept + [{"key": key, "operator": "In", "values": [value]} for key, value in decided.items()]


def _manifest(
    pool_name: str, labels: dict[str, str], annotations: dict[str, str], spec: dict[str, Any]
) -> dict[str, Any]:
    labels = {**labels, NODEPOOL_LABEL: pool_name}
    return {
        "apiVersion": API_VERSION,
        "kind": "NodeClaim",
        "metadata": {
            "name": f"{pool_name}-{secrets.token_hex(3)}",
            "labels": labels,
            "annotations": annotations,
            "finalizers": [TERMINATION_FINALIZER],
        },
        "spec": spec,
    }


def replacement_claim(old: dict[str, Any], pool_name: str, option: Option | None) -> dict[str, Any]:
    """The old claim's template again (narrowed to ``option`` when there is one): a spot reclaim's twin."""
    metadata = old.get("metadata") or {}
    spec = copy.deepcopy(old.get("spec") or {})
    if option is not None:
        decided = {
            INSTANCE_TYPE_LABEL: option.instance_type.name,
            CAPACITY_TYPE_LABEL: option.offering.capacity_type,
        }
        spec["requirements"] = _narrow(spec.get("requirements") or [], decided)
    labels = {k: v for k, v in (metadata.get("labels") or {}).items() if k not in _LAUNCH_LABELS}
    # Same template, so the same drift hashes: a twin of a drifted claim is drifted too.
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k in _HASHES}
    annotations[REPLACES_ANNOTATION] = str(metadata.get("name"))
    return _manifest(pool_name, labels, annotations, spec)


def template_claim(
    pool_name: str,
    pool: NodePoolSpec,
    node_class: FlexNodeClassSpec | None,
    option: Option,
    replaces: Sequence[str],
) -> dict[str, Any]:
    """A new claim from the pool's current template, on ``option``'s instance type, capacity type and zone."""
    template = pool.template
    spec = template.spec.to_wire()
    decided = {
        INSTANCE_TYPE_LABEL: option.instance_type.name,
        CAPACITY_TYPE_LABEL: option.offering.capacity_type,
        ZONE_LABEL: option.offering.zone,
        REGION_LABEL: option.offering.region,
    }
    spec["requirements"] = _narrow(spec.get("requirements") or [], decided)
    labels = {
        **((template.metadata.labels if template.metadata else None) or {}),
        NODECLASS_LABEL: template.spec.node_class_ref.name,
    }
    annotations = {**drift_annotations(pool, node_class), REPLACES_ANNOTATION: ",".join(replaces)}
    return _manifest(pool_name, labels, annotations, spec)
