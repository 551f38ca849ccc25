"""Draining a node: delete every pod that would move (not DaemonSet-owned, not ended), honouring
PodDisruptionBudgets and ``karpenter.sh/do-not-disrupt`` until the drain is forced (the NodeClaim's
``terminationGracePeriod`` ran out, or a spot reclaim is near). The termination reconciler calls it on
each pass until no pod is left; the pods' controllers recreate them elsewhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from infleet.api.kubernetes import POD
from infleet.compute import workload_pods
from infleet.compute.pod_disruption_budgets import DisruptionAllowance, list_budgets
from infleet.kube.cluster_client import ClusterClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DrainProgress:
    """What a drain pass did: pods deleted now, pods it still waits for, and why it waits."""

    evicted: int
    waiting: int
    blocked_by: str = ""

    @property
    def done(self) -> bool:
        return self.evicted == 0 and self.waiting == 0


def pods_to_drain(pods: list[dict[str, Any]], node_name: str) -> list[dict[str, Any]]:
    return [
        pod
        for pod in pods
        if workload_pods.node_of(pod) == node_name
        and not workload_pods.is_daemon(pod)
        and not workload_pods.is_terminal(pod)
    ]


async def drain(
    client: ClusterClient, pods: list[dict[str, Any]], node_name: str, forced: bool
) -> DrainProgress:
    """Delete the node's movable pods that may go now; ``forced`` ignores PDBs and do-not-disrupt."""
    remaining = pods_to_drain(pods, node_name)
    if not remaining:
        return DrainProgress(0, 0)
    allowance = DisruptionAllowance(await list_budgets(client), pods) if not forced else None
    evicted, waiting, blocked_by = 0, 0, ""
    for pod in remaining:
        if workload_pods.is_terminating(pod):
            waiting += 1
            continue
        if not forced and workload_pods.do_not_disrupt(pod):
            waiting, blocked_by = waiting + 1, "a pod carries karpenter.sh/do-not-disrupt"
            continue
        if allowance is not None:
            if not allowance.allows([pod]):
                waiting, blocked_by = waiting + 1, "a PodDisruptionBudget allows no more evictions"
                continue
            allowance.charge([pod])
        await _delete(client, pod)
        evicted += 1
    return DrainProgress(evicted, waiting, blocked_by)


async def _delete(client: ClusterClient, pod: dict[str, Any]) -> None:
    metadata = pod["metadata"]
    await client.delete(POD, metadata["name"], metadata.get("namespace"), missing_ok=True)
    log.debug("drained pod %s/%s", metadata.get("namespace"), metadata["name"])
