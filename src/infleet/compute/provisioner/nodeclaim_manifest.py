"""The NodeClaim the provisioner writes for a packed node: the pool's template (labels, taints, startup
taints, node class, expiry), requirements listing every instance type that fits its pods cheapest first
with their capacity types and zones (and the region of a multi-node group), the pods' summed requests,
the ``karpenter.sh/termination`` finalizer, the NodePool as owner, and the drift hashes of the pool's
template and its node class (``karpenter.sh/nodepool-hash``).
"""

from __future__ import annotations

import random
import string
from typing import Any

from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FlexNodeClassSpec
from infleet.api.karpenter_sh.v1.group_version import API_VERSION
from infleet.api.karpenter_sh.v1.node_pool import NodePoolSpec
from infleet.api.labels import (
    CAPACITY_TYPE_LABEL,
    GPU_COUNT_LABEL,
    GPU_RESOURCE,
    GPU_SKU_LABEL,
    INSTANCE_TYPE_LABEL,
    NODECLASS_LABEL,
    NODEPOOL_LABEL,
    REGION_LABEL,
    TERMINATION_FINALIZER,
    ZONE_LABEL,
)
from infleet.compute.drift_hash import drift_annotations
from infleet.compute.provisioner.packing import NewClaim
from infleet.compute.provisioner.requirements import requirement

#: Karpenter hands at most this many instance types to the cloud provider per NodeClaim.
MAX_INSTANCE_TYPES = 600
_DECIDED = (
    INSTANCE_TYPE_LABEL,
    CAPACITY_TYPE_LABEL,
    ZONE_LABEL,
    REGION_LABEL,
    GPU_SKU_LABEL,
    GPU_COUNT_LABEL,
)


def claim_name(pool: str, rng: random.Random) -> str:
    return f"{pool}-" + "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(5))


def _requirements(claim: NewClaim, template: dict[str, Any]) -> list[dict[str, Any]]:
    kept = [r for r in template.get("requirements") or [] if r.get("key") not in _DECIDED]
    candidates = claim.candidates[:MAX_INSTANCE_TYPES]
    offerings = [o for c in candidates for o in c.offerings]
    kept.append(requirement(INSTANCE_TYPE_LABEL, (c.name for c in candidates)))
    kept.append(requirement(CAPACITY_TYPE_LABEL, sorted({o.capacity_type for o in offerings})))
    kept.append(requirement(ZONE_LABEL, sorted({o.zone for o in offerings})))
    if claim.region:
        kept.append(requirement(REGION_LABEL, [claim.region]))
    for key, values in (
        (GPU_SKU_LABEL, {c.instance_type.gpu_sku for c in candidates}),
        (GPU_COUNT_LABEL, {str(c.instance_type.gpus) for c in candidates}),
    ):
        if len(values) == 1:
            kept.append(requirement(key, values))
    return kept


def nodeclaim_manifest(
    claim: NewClaim, nodepool: dict[str, Any], name: str, node_class: FlexNodeClassSpec | None = None
) -> dict[str, Any]:
    template = (nodepool.get("spec") or {}).get("template") or {}
    spec = dict(template.get("spec") or {})
    labels = {
        **((template.get("metadata") or {}).get("labels") or {}),
        NODEPOOL_LABEL: nodepool["metadata"]["name"],
        NODECLASS_LABEL: (spec.get("nodeClassRef") or {}).get("name", ""),
    }
    requests = claim.requests
    spec["requirements"] = _requirements(claim, spec)
    spec["resources"] = {
        "requests": {
            GPU_RESOURCE: str(requests.gpus),
            "cpu": f"{requests.cpu_m}m",
            "memory": f"{requests.memory_mib}Mi",
            "pods": str(requests.pods),
        }
    }
    owner = {
        "apiVersion": API_VERSION,
        "kind": "NodePool",
        "name": nodepool["metadata"]["name"],
        "uid": nodepool["metadata"].get("uid", ""),
        "blockOwnerDeletion": True,
    }
    return {
        "apiVersion": API_VERSION,
        "kind": "NodeClaim",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": drift_annotations(
                NodePoolSpec.model_validate(nodepool.get("spec") or {}), node_class
            ),
            "finalizers": [TERMINATION_FINALIZER],
            "ownerReferences": [owner],
        },
        "spec": spec,
    }
