"""Whether a NodePool is Ready, and why not, in the compute layer's mode: the verdict
:class:`infleet.compute.lifecycle.pool_status.NodePoolStatus` writes. The member agent reads it too: a pool
that is not Ready counts for no ``provisionable`` GPUs. Pools of another node class are Karpenter's in
karpenter mode (None: leave their status alone) and unsupported in infleet mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from infleet.api.karpenter_sh.v1.node_pool import NodePoolSpec
from infleet.api.pool_ownership import is_flex_pool, is_static, node_class_ref, static_pool_problem
from infleet.compute.mode import ComputeMode
from infleet.kube.conditions import is_true


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str
    message: str = ""


def pool_readiness(
    pool: Mapping[str, Any], node_class: Mapping[str, Any] | None, mode: ComputeMode, nodes: int
) -> Readiness | None:
    """The Ready verdict of ``pool`` (``nodes``: how many it has), or None where Karpenter owns it."""
    name = pool["metadata"]["name"]
    ref = node_class_ref(pool)
    if not is_flex_pool(pool):
        if mode is ComputeMode.KARPENTER:
            return None
        return Readiness(
            False,
            "UnsupportedNodeClass",
            f"NodePool {name}: spec.template.spec.nodeClassRef names {ref.get('group')}/{ref.get('kind')}; "
            "Infleet provisions only compute.aitoolchain.io/FlexNodeClass pools. If a Karpenter install "
            "serves that kind here, run infleet compute --mode karpenter (or auto)",
        )
    try:
        spec = NodePoolSpec.model_validate(pool.get("spec") or {})
    except ValidationError as error:
        return Readiness(False, "InvalidSpec", f"NodePool {name}: {error}")
    if node_class is None:
        return Readiness(False, "NodeClassNotFound", f"FlexNodeClass {ref.get('name')} does not exist")
    if is_static(spec):
        return _static(name, spec, nodes)
    if mode is ComputeMode.KARPENTER:
        return Readiness(
            False,
            "NotProvisioned",
            f"NodePool {name}: Infleet runs in karpenter mode in this cluster, so its provisioner is off, "
            "and Karpenter cannot launch FlexNodeClass nodes; reference your Karpenter provider's node "
            "class, set spec.replicas to make it a static pool of nodes you bring, or run infleet "
            "compute --mode infleet",
        )
    if not is_true((node_class.get("status") or {}).get("conditions"), "Ready"):
        return Readiness(False, "NodeClassNotReady", f"FlexNodeClass {ref.get('name')} is not Ready")
    return Readiness(True, "Ready")


def _static(name: str, spec: NodePoolSpec, nodes: int) -> Readiness:
    problem = static_pool_problem(name, spec)
    if problem is not None:
        return Readiness(False, "InvalidStaticPool", problem)
    # Ready: its nodes serve pods. Fewer than replicas is said, not fixed: their owner brings nodes.
    wanted = spec.replicas or 0
    if nodes >= wanted:
        return Readiness(True, "Ready")
    return Readiness(True, "Ready", f"{nodes} of {wanted} nodes labeled karpenter.sh/nodepool={name} present")
