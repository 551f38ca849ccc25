"""Registration: the Node whose ``spec.providerID`` is the claim's has joined. The Node loses the
``karpenter.sh/unregistered`` taint and gains ``karpenter.sh/registered`` and the claim's labels; the
claim records ``status.nodeName`` and ``Registered``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infleet.api.karpenter_sh.v1.node_claim import LAUNCHED, REGISTERED
from infleet.api.kubernetes import NODE
from infleet.api.labels import NODE_REGISTERED_LABEL, UNREGISTERED_TAINT
from infleet.compute.lifecycle.claim_run import ClaimRun, set_claim_condition
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.informer import Informer
from infleet.kube.reconciler import Result

PROVIDER_ID_INDEX = "spec.providerID"


def _provider_id(node: Mapping[str, Any]) -> list[str]:
    provider_id = (node.get("spec") or {}).get("providerID")
    return [str(provider_id)] if provider_id else []


def index_provider_ids(nodes: Informer) -> None:
    """Nodes by ``spec.providerID``: every claim's reconcile looks its Node up (a scan of every Node
    each time was most of the lifecycle's CPU at a thousand nodes)."""
    nodes.store.add_index(PROVIDER_ID_INDEX, _provider_id)


def node_of(nodes: Informer, provider_id: str | None) -> dict[str, Any] | None:
    if not provider_id:
        return None
    index_provider_ids(nodes)  # (a no-op once added)
    found = nodes.store.by_index(PROVIDER_ID_INDEX, provider_id)
    return found[0] if found else None


class Registration:
    def __init__(self, client: ClusterClient, nodes: Informer, clock: Clock) -> None:
        self.client, self.nodes, self.clock = client, nodes, clock
        index_provider_ids(nodes)

    async def reconcile(self, run: ClaimRun) -> Result:
        run.node = node_of(self.nodes, (run.claim.get("status") or {}).get("providerID"))
        if not run.has(LAUNCHED) or run.node is None:
            return Result()
        labels = run.node["metadata"].get("labels") or {}
        taints = (run.node.get("spec") or {}).get("taints") or []
        if labels.get(NODE_REGISTERED_LABEL) != "true" or any(
            t.get("key") == UNREGISTERED_TAINT for t in taints
        ):
            kept = [t for t in taints if t.get("key") != UNREGISTERED_TAINT]
            claim_labels = run.claim["metadata"].get("labels") or {}
            patch = {
                "metadata": {"labels": {**claim_labels, NODE_REGISTERED_LABEL: "true"}},
                "spec": {"taints": kept},
            }
            run.node = await self.client.patch(NODE, run.node["metadata"]["name"], patch)
        if not run.has(REGISTERED):
            node_name = run.node["metadata"]["name"]
            extra = {"nodeName": node_name}
            await set_claim_condition(
                self.client,
                run,
                self.clock,
                REGISTERED,
                True,
                "Registered",
                f"node {node_name} joined",
                extra,
            )
        return Result()
