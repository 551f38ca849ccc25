"""How long each node has gone without a pod arriving or leaving, and the ``Consolidatable`` condition
Karpenter derives from it: a node becomes a consolidation candidate once that quiet time reaches its
pool's ``consolidateAfter`` (``Never``: not at all). The loop observes every pass's snapshot and writes
the condition only when it flips (in one patch with ``Drifted``).
"""

from __future__ import annotations

from typing import Any

from infleet.api.karpenter_sh.v1.node_claim import CONSOLIDATABLE, NODE_CLAIM
from infleet.api.karpenter_sh.v1.node_pool import NodePoolSpec
from infleet.compute.disruption.state import Snapshot, StateNode
from infleet.compute.durations import parse_duration
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import get_condition, set_condition


def consolidate_after(pool: NodePoolSpec | None) -> float | None:
    if pool is None:
        return None
    return parse_duration(pool.disruption.consolidate_after if pool.disruption else "0s")


class QuietTimes:
    """Per NodeClaim: the pods last seen on it and since when (monotonic s) that set has held."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._seen: dict[str, tuple[frozenset[str], float]] = {}

    def observe(self, snapshot: Snapshot) -> None:
        now = self.clock.now()
        current: dict[str, tuple[frozenset[str], float]] = {}
        for state in snapshot.nodes:
            pods = frozenset(
                str(p["metadata"].get("uid") or p["metadata"]["name"]) for p in state.reschedulable
            )
            previous = self._seen.get(state.name)
            current[state.name] = previous if previous is not None and previous[0] == pods else (pods, now)
        self._seen = current

    def quiet_for(self, state: StateNode) -> float:
        seen = self._seen.get(state.name)
        return 0.0 if seen is None else self.clock.now() - seen[1]

    def consolidatable(self, state: StateNode, pool: NodePoolSpec | None) -> bool:
        after = consolidate_after(pool)
        return after is not None and self.quiet_for(state) >= after


def apply(conditions: list[dict[str, Any]], consolidatable: bool, now_wall: float) -> bool:
    """Set the ``Consolidatable`` condition in ``conditions``; whether it changed."""
    current = get_condition(conditions, CONSOLIDATABLE)
    wanted = "True" if consolidatable else "False"
    if current is not None and current.get("status") == wanted:
        return False
    reason = "Consolidatable" if consolidatable else "NotConsolidatable"
    return set_condition(conditions, CONSOLIDATABLE, consolidatable, reason, now=now_wall)


async def patch_conditions(client: ClusterClient, state: StateNode, conditions: list[dict[str, Any]]) -> None:
    """Write the claim's conditions (all at once: a merge patch replaces the whole list)."""
    try:
        await client.patch(
            NODE_CLAIM, state.name, {"status": {"conditions": conditions}}, subresource="status"
        )
    except KubeAPIError as error:
        if not (error.not_found or error.conflict):
            raise
