"""Draining a node: evict every pod that would move (not DaemonSet-owned, not ended) through the
``pods/eviction`` subresource, so the API server enforces PodDisruptionBudgets atomically against every
other evictor (``kubectl drain``, another controller) and marks each pod with the ``DisruptionTarget``
condition; pods carrying ``karpenter.sh/do-not-disrupt`` wait. Once the drain is forced (the NodeClaim's
``terminationGracePeriod`` ran out, or a spot reclaim is near) pods are deleted directly, budgets and
do-not-disrupt aside, as Karpenter does. The termination reconciler calls it on each pass until no pod
is left; the pods' controllers recreate them elsewhere.

Like Karpenter's terminator, the budget check is the API server's: a refused eviction (429) leaves the
pod to the next pass and its message, which names the budget and its healthy counts, becomes the
NodeClaim's ``DrainWaiting`` event. Each eviction carries the pod's UID as a precondition, so a pod
recreated under the same name (a StatefulSet's) is not evicted in its predecessor's place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from infleet.api.kubernetes import POD
from infleet.compute import workload_pods
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DrainProgress:
    """What a drain pass did: pods evicted now, pods it still waits for, and why it waits."""

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
    """Evict the node's movable pods that may go now; ``forced`` deletes them, budgets aside."""
    evicted, waiting, blocked_by = 0, 0, ""
    for pod in pods_to_drain(pods, node_name):
        if workload_pods.is_terminating(pod):
            waiting += 1
            continue
        if forced:
            await _delete(client, pod)
            evicted += 1
            continue
        if workload_pods.do_not_disrupt(pod):
            waiting, blocked_by = waiting + 1, "a pod carries karpenter.sh/do-not-disrupt"
            continue
        refused = await _evict(client, pod)
        if refused:
            waiting, blocked_by = waiting + 1, refused
        else:
            evicted += 1
    return DrainProgress(evicted, waiting, blocked_by)


async def _evict(client: ClusterClient, pod: dict[str, Any]) -> str:
    """POST an Eviction for the pod; why the API server refused it, or "" if it went (or was gone)."""
    metadata = pod["metadata"]
    name, namespace = metadata["name"], metadata.get("namespace")
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": namespace},
        "deleteOptions": {"preconditions": {"uid": metadata.get("uid")}} if metadata.get("uid") else {},
    }
    try:
        await client.create_subresource(POD, name, "eviction", eviction, namespace)
    except KubeAPIError as error:
        if error.not_found or error.conflict:
            return ""  # gone, or replaced by a new pod of the same name: nothing of this pod is left
        if error.code == 429:
            return f"evicting pod {namespace}/{name}: {_refusal(error)}"
        log.warning("evicting pod %s/%s failed: %s", namespace, name, error)
        return f"evicting pod {namespace}/{name} failed: {error.message}"
    log.debug("evicted pod %s/%s", namespace, name)
    return ""


def _refusal(error: KubeAPIError) -> str:
    """The refusal's message with its causes: the budget that holds the pod and its healthy counts."""
    causes = (error.status.get("details") or {}).get("causes") or []
    reasons = [str(c.get("message")) for c in causes if isinstance(c, dict) and c.get("message")]
    return " ".join([error.message, *reasons])


async def _delete(client: ClusterClient, pod: dict[str, Any]) -> None:
    metadata = pod["metadata"]
    await client.delete(POD, metadata["name"], metadata.get("namespace"), missing_ok=True)
    log.debug("deleted pod %s/%s: the drain is forced", metadata.get("namespace"), metadata["name"])
