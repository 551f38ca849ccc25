"""Drift detection (Karpenter's NodeClaim ``Drifted`` condition): a claim is drifted when its
``karpenter.sh/nodepool-hash`` differs from its NodePool's template hash (labels, annotations, taints,
startup taints, nodeClassRef changed), when its node's labels no longer satisfy the pool's requirements,
or when its FlexNodeClass changed since it was created (Infleet's stand-in for a provider's
``IsDrifted``). Claims without the hash annotation, or stamped with another hash version, are not
drifted by hash, as in Karpenter. The loop writes the condition each pass, only when it changes.
"""

from __future__ import annotations

from typing import Any

from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FlexNodeClassSpec
from infleet.api.karpenter_sh.v1.node_claim import DRIFTED
from infleet.api.karpenter_sh.v1.node_pool import NodePoolSpec
from infleet.api.labels import (
    NODECLASS_HASH_ANNOTATION,
    NODEPOOL_HASH_ANNOTATION,
    NODEPOOL_HASH_VERSION_ANNOTATION,
)
from infleet.compute.disruption.requirements import allows
from infleet.compute.disruption.state import StateNode
from infleet.compute.drift_hash import NODEPOOL_HASH_VERSION, node_class_hash, nodepool_hash
from infleet.kube.conditions import get_condition, set_condition

NODEPOOL_DRIFTED = "NodePoolDrifted"
REQUIREMENTS_DRIFTED = "RequirementsDrifted"
NODECLASS_DRIFTED = "NodeClassDrifted"
_MESSAGES = {
    NODEPOOL_DRIFTED: "its NodePool's template changed (labels, annotations, taints or nodeClassRef)",
    REQUIREMENTS_DRIFTED: "its node no longer satisfies its NodePool's requirements",
    NODECLASS_DRIFTED: "its FlexNodeClass changed",
}


def _labels(state: StateNode) -> dict[str, str]:
    merged: dict[str, str] = {}
    for obj in (state.claim, state.node):
        merged.update(((obj or {}).get("metadata") or {}).get("labels") or {})
    return merged


def drift_reason(
    state: StateNode, pool: NodePoolSpec | None, node_classes: dict[str, FlexNodeClassSpec]
) -> str | None:
    """Why the claim no longer matches its pool or node class; None when it still does."""
    if pool is None or not state.initialized:
        return None
    annotations: dict[str, str] = state.claim["metadata"].get("annotations") or {}
    stamped = annotations.get(NODEPOOL_HASH_ANNOTATION)
    same_version = annotations.get(NODEPOOL_HASH_VERSION_ANNOTATION) == NODEPOOL_HASH_VERSION
    if stamped is not None and same_version and stamped != nodepool_hash(pool):
        return NODEPOOL_DRIFTED
    if not allows(pool.template.spec.requirements or [], _labels(state)):
        return REQUIREMENTS_DRIFTED
    node_class = node_classes.get(pool.template.spec.node_class_ref.name)
    stamped_class = annotations.get(NODECLASS_HASH_ANNOTATION)
    if node_class is not None and stamped_class is not None and stamped_class != node_class_hash(node_class):
        return NODECLASS_DRIFTED
    return None


def apply(conditions: list[dict[str, Any]], reason: str | None, now_wall: float) -> bool:
    """Set ``Drifted`` True with ``reason``, or clear it (as Karpenter does) when no longer drifted;
    whether anything changed."""
    if reason is not None:
        message = _MESSAGES.get(reason, "the NodeClaim no longer matches its NodePool")
        return set_condition(conditions, DRIFTED, True, reason, message, now=now_wall)
    if get_condition(conditions, DRIFTED) is None:
        return False
    conditions[:] = [c for c in conditions if c.get("type") != DRIFTED]
    return True
