"""A Node deleted directly (``kubectl delete node``) is terminated through its NodeClaim: this reconciler
deletes the claim, and the termination reconciler then drains the node (if a finalizer still holds it)
and terminates the instance, so no instance outlives its Node unnoticed.
"""

from __future__ import annotations

from typing import Any

from infleet.api.karpenter_sh.v1.node_claim import NODE_CLAIM
from infleet.api.labels import NODECLAIM_LABEL
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.finalizers import is_being_deleted
from infleet.kube.informer import DELETED, InformerEvent
from infleet.kube.reconciler import Request, Result
from infleet.kube.store import Store


def claim_of_node(event: InformerEvent) -> list[Request]:
    """The NodeClaim of a Node that is being deleted or is gone."""
    node = event.obj
    if event.type != DELETED and not is_being_deleted(node):
        return []
    claim = ((node.get("metadata") or {}).get("labels") or {}).get(NODECLAIM_LABEL)
    return [Request(event.cluster, "", claim)] if claim else []


class NodeDeletionReconciler:
    """Deletes the NodeClaim whose Node is being deleted or gone (requests name the NodeClaim)."""

    def __init__(self, client: ClusterClient, claims: Store, nodes: Store) -> None:
        self.client = client
        self.claims = claims
        self.nodes = nodes

    def _node_going(self, claim: dict[str, Any]) -> bool:
        labelled = self.nodes.by_label(NODECLAIM_LABEL, claim["metadata"]["name"])
        node_name = (claim.get("status") or {}).get("nodeName")
        if not labelled and node_name and self.nodes.get(node_name) is None:
            return True  # it registered a node, and that node is gone
        return any(is_being_deleted(node) for node in labelled)

    async def reconcile(self, request: Request) -> Result:
        claim = self.claims.get(request.name)
        if claim is None or is_being_deleted(claim) or not self._node_going(claim):
            return Result()
        await self.client.delete(NODE_CLAIM, request.name, missing_ok=True)
        return Result()
