"""Drift hashes: Karpenter's ``karpenter.sh/nodepool-hash`` over a NodePool template's static fields
(labels, annotations, taints, startup taints, nodeClassRef), and Infleet's hash of a FlexNodeClass spec.
The provisioner and disruption's replacements stamp both on every NodeClaim they create; the disruption
loop compares them with the live objects to find drifted claims. Requirements are dynamic (checked
against the node's labels instead) and behavioural fields (disruption, limits, weight, expireAfter,
terminationGracePeriod) never drift, as in Karpenter.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FlexNodeClassSpec
from infleet.api.karpenter_sh.v1.node_pool import NodePoolSpec
from infleet.api.labels import (
    NODECLASS_HASH_ANNOTATION,
    NODEPOOL_HASH_ANNOTATION,
    NODEPOOL_HASH_VERSION_ANNOTATION,
)

#: Bumped when what the hash covers changes, so claims stamped the old way are not seen as drifted.
NODEPOOL_HASH_VERSION = "v1"


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def nodepool_hash(pool: NodePoolSpec) -> str:
    template = pool.template
    spec = template.spec
    static = {
        "labels": (template.metadata.labels if template.metadata else None) or {},
        "annotations": (template.metadata.annotations if template.metadata else None) or {},
        "taints": [t.to_wire() for t in spec.taints or []],
        "startupTaints": [t.to_wire() for t in spec.startup_taints or []],
        "nodeClassRef": spec.node_class_ref.to_wire(),
    }
    return _digest(static)


def node_class_hash(node_class: FlexNodeClassSpec) -> str:
    return _digest(node_class.to_wire())


def drift_annotations(pool: NodePoolSpec, node_class: FlexNodeClassSpec | None) -> dict[str, str]:
    """What a new NodeClaim of ``pool`` carries so that later changes to either object show as drift."""
    annotations = {
        NODEPOOL_HASH_ANNOTATION: nodepool_hash(pool),
        NODEPOOL_HASH_VERSION_ANNOTATION: NODEPOOL_HASH_VERSION,
    }
    if node_class is not None:
        annotations[NODECLASS_HASH_ANNOTATION] = node_class_hash(node_class)
    return annotations
