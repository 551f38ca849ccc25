"""Which nodes disruption may consider: initialized NodeClaims of existing pools, not already disrupting,
with no ``karpenter.sh/do-not-disrupt`` on the node or any of its pods, and no model replica still
loading its weights (evicting it would throw minutes of loading away). Each refusal has a reason, so the
loop can say in an event why a node stays.
"""

from __future__ import annotations

from dataclasses import dataclass

from infleet.compute import workload_pods
from infleet.compute.disruption.state import Snapshot, StateNode


@dataclass(frozen=True)
class Screened:
    candidates: list[StateNode]
    #: NodeClaim name -> why it may not be disrupted voluntarily now
    refused: dict[str, str]


def refusal(state: StateNode, snapshot: Snapshot) -> str | None:
    if not state.initialized or state.disrupting:
        return "not initialized" if not state.initialized else "already disrupting"
    if state.pool_name not in snapshot.pools:
        return f"NodePool {state.pool_name!r} not found"
    if snapshot.pools[state.pool_name].replicas is not None:  # static: its owner, not Infleet, decides
        return f"NodePool {state.pool_name!r} is static (spec.replicas)"
    if state.node is not None and workload_pods.do_not_disrupt(state.node):
        return "the node carries karpenter.sh/do-not-disrupt"
    for pod in state.reschedulable:
        if workload_pods.do_not_disrupt(pod):
            return f"pod {pod['metadata']['name']} carries karpenter.sh/do-not-disrupt"
        if workload_pods.is_loading_model(pod):
            return f"model replica {pod['metadata']['name']} is loading its weights"
    return None


def screen(snapshot: Snapshot) -> Screened:
    candidates: list[StateNode] = []
    refused: dict[str, str] = {}
    for state in snapshot.nodes:
        reason = refusal(state, snapshot)
        if reason is None:
            candidates.append(state)
        else:
            refused[state.name] = reason
    return Screened(candidates, refused)


def disruption_cost(state: StateNode) -> tuple[int, float]:
    """Cheapest to disrupt first: fewest pods moved, then the most expensive node (most saved)."""
    return (len(state.reschedulable), -(state.price or 0.0))
