"""The NodeClaim that replaces another (a cheaper shape for consolidation, or the same requirements for
a spot reclaim): the old claim's template, narrowed to the chosen instance type and capacity type when
there is one, labelled with its pool and annotated with the claim it replaces. The provisioning side's
lifecycle launches it like any other NodeClaim.
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

from infleet.api.karpenter_sh.v1.group_version import API_VERSION
from infleet.api.labels import (
    CAPACITY_TYPE_LABEL,
    INSTANCE_TYPE_LABEL,
    NODEPOOL_LABEL,
    REPLACES_ANNOTATION,
    TERMINATION_FINALIZER,
    ZONE_LABEL,
)
from infleet.compute.disruption.pricing import Option

#: Labels a launch decides; a replacement gets its own.
_LAUNCH_LABELS = (INSTANCE_TYPE_LABEL, CAPACITY_TYPE_LABEL, ZONE_LABEL)


def replacement_claim(old: dict[str, Any], pool_name: str, option: Option | None) -> dict[str, Any]:
    metadata = old.get("metadata") or {}
    spec = copy.deepcopy(old.get("spec") or {})
    if option is not None:
        narrowed = {
            INSTANCE_TYPE_LABEL: option.instance_type.name,
            CAPACITY_TYPE_LABEL: option.offering.capacity_type,
        }
        kept = [r for r in spec.get("requirements") or [] if r.get("key") not in narrowed]
        spec["requirements"] = kept + [
            {"key": key, "operator": "In", "values": [value]} for key, value in narrowed.items()
        ]
    labels = {k: v for k, v in (metadata.get("labels") or {}).items() if k not in _LAUNCH_LABELS}
    labels[NODEPOOL_LABEL] = pool_name
    return {
        "apiVersion": API_VERSION,
        "kind": "NodeClaim",
        "metadata": {
            "name": f"{pool_name}-{secrets.token_hex(3)}",
            "labels": labels,
            "annotations": {REPLACES_ANNOTATION: str(metadata.get("name"))},
            "finalizers": [TERMINATION_FINALIZER],
        },
        "spec": spec,
    }
