"""Status of NodePools and FlexNodeClasses. A NodePool's ``resources`` add up its NodeClaims' capacity
(``nodes`` counts them; a static pool's are its labeled Nodes, which have no NodeClaim) and its Ready
condition follows :mod:`pool_readiness`; pools Karpenter owns (karpenter mode) are left alone. A
FlexNodeClass counts the offerings its clouds and regions give and is Ready when there is at least one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FLEX_NODE_CLASS, FlexNodeClassSpec
from infleet.api.karpenter_sh.v1.node_pool import NODE_POOL
from infleet.api.labels import NODEPOOL_LABEL
from infleet.api.quantity import format_quantity, parse_quantity
from infleet.compute.cloudprovider.provider import CloudProvider
from infleet.compute.lifecycle.pool_readiness import pool_readiness
from infleet.compute.mode import ComputeMode
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import set_condition
from infleet.kube.informer import Informer
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status


def pool_resources(claims: list[dict[str, Any]]) -> dict[str, str]:
    """The capacity NodeClaims (or Nodes: both carry ``status.capacity``) add up to."""
    totals: dict[str, Decimal] = {}
    for claim in claims:
        for key, value in ((claim.get("status") or {}).get("capacity") or {}).items():
            totals[key] = totals.get(key, Decimal(0)) + parse_quantity(value)
    shown = {key: format_quantity(value, binary=key == "memory") for key, value in totals.items()}
    return {**shown, "nodes": str(len(claims))}


class NodePoolStatus:
    def __init__(
        self,
        client: ClusterClient,
        nodepools: Informer,
        nodeclaims: Informer,
        nodeclasses: Informer,
        clock: Clock,
        nodes: Informer | None = None,
        mode: ComputeMode = ComputeMode.INFLEET,
    ) -> None:
        self.client, self.nodepools, self.nodeclaims, self.nodeclasses = (
            client,
            nodepools,
            nodeclaims,
            nodeclasses,
        )
        self.clock, self.nodes, self.mode = clock, nodes, mode

    async def reconcile(self, request: Request) -> Result:
        pool = self.nodepools.store.get(request.name)
        if pool is None:
            return Result()
        static = (pool.get("spec") or {}).get("replicas") is not None
        if static and self.nodes is not None:
            # Brought by their owner: the pool's Nodes, not NodeClaims, are what it has.
            members = self.nodes.store.by_label(NODEPOOL_LABEL, request.name)
        else:
            members = self.nodeclaims.store.by_label(NODEPOOL_LABEL, request.name)
        ref = (((pool.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeClassRef") or {}
        node_class = self.nodeclasses.store.get(ref.get("name", ""))
        verdict = pool_readiness(pool, node_class, self.mode, len(members))
        if verdict is None:
            return Result()  # Karpenter's pool: its status is Karpenter's to write
        now, generation = self.clock.wall(), pool["metadata"].get("generation")

        def mutate(status: dict[str, Any]) -> None:
            status["resources"] = pool_resources(members)
            status["nodes"] = len(members)
            set_condition(
                status.setdefault("conditions", []),
                "Ready",
                verdict.ready,
                verdict.reason,
                verdict.message,
                generation,
                now,
            )

        await patch_status(self.client, NODE_POOL, pool, mutate)
        return Result()


class NodeClassStatus:
    def __init__(
        self, client: ClusterClient, nodeclasses: Informer, provider: CloudProvider, clock: Clock
    ) -> None:
        self.client, self.nodeclasses, self.provider, self.clock = client, nodeclasses, provider, clock

    async def reconcile(self, request: Request) -> Result:
        node_class = self.nodeclasses.store.get(request.name)
        if node_class is None:
            return Result()
        spec = FlexNodeClassSpec.model_validate(node_class.get("spec") or {})
        offerings = sum(len(t.offerings) for t in self.provider.instance_types(spec))
        ready = offerings > 0
        message = (
            "" if ready else "no cloud or region of this class offers any instance type; check spec.clouds"
        )
        now, generation = self.clock.wall(), node_class["metadata"].get("generation")

        def mutate(status: dict[str, Any]) -> None:
            status["offerings"] = offerings
            reason = "Ready" if ready else "NoOfferings"
            set_condition(
                status.setdefault("conditions", []), "Ready", ready, reason, message, generation, now
            )

        await patch_status(self.client, FLEX_NODE_CLASS, node_class, mutate)
        return Result()
