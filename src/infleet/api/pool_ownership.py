"""Who acts on a NodePool. Infleet's compute layer serves pools whose ``nodeClassRef`` names a
FlexNodeClass; a pool naming another kind (EC2NodeClass, AKSNodeClass...) belongs to that kind's Karpenter
provider, and Infleet leaves it alone, as Karpenter leaves FlexNodeClass pools alone. A pool with
``spec.replicas`` is static (Karpenter's StaticCapacity): never provisioned for pending pods nor
consolidated; a static FlexNodeClass pool holds nodes their owner brought, labeled
``karpenter.sh/nodepool``, that Infleet never creates or deletes. Read by the provisioner, the pool status,
disruption and the member agent's ``provisionable`` property.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FLEX_NODE_CLASS
from infleet.api.karpenter_sh.v1.node_pool import NodePoolSpec
from infleet.api.karpenter_sh.v1.node_template import NodeClassReference


def names_flex_node_class(ref: NodeClassReference | Mapping[str, Any]) -> bool:
    """The reference names Infleet's FlexNodeClass (group and kind, not only the name)."""
    if isinstance(ref, NodeClassReference):
        return ref.group == FLEX_NODE_CLASS.group and ref.kind == FLEX_NODE_CLASS.kind
    return ref.get("group") == FLEX_NODE_CLASS.group and ref.get("kind") == FLEX_NODE_CLASS.kind


def node_class_ref(pool: Mapping[str, Any]) -> Mapping[str, Any]:
    """A pool's raw ``spec.template.spec.nodeClassRef`` (empty when missing), without validating it."""
    template = ((pool.get("spec") or {}).get("template") or {}).get("spec") or {}
    ref = template.get("nodeClassRef")
    return ref if isinstance(ref, Mapping) else {}


def is_flex_pool(pool: Mapping[str, Any]) -> bool:
    """Infleet's compute layer serves this pool (its node class is a FlexNodeClass)."""
    return names_flex_node_class(node_class_ref(pool))


def is_static(spec: NodePoolSpec) -> bool:
    """A static pool: its node count is set, not driven by pending pods."""
    return spec.replicas is not None


def static_pool_problem(name: str, spec: NodePoolSpec) -> str | None:
    """Why a static pool's spec is refused (Karpenter's rules for static pools), or None."""
    if spec.weight is not None:
        return (
            f"NodePool {name}: spec.weight is set on a static pool (spec.replicas); static pools are "
            "never chosen for pending pods, so remove spec.weight"
        )
    other = sorted(key for key in spec.limits or {} if key != "nodes")
    if other:
        return (
            f"NodePool {name}: spec.limits of a static pool (spec.replicas) may hold only nodes, "
            f"not {', '.join(other)}; remove them"
        )
    return None
