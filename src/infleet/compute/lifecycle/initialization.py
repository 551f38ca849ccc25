"""Initialization: the claim's Node is Ready, its GPUs are registered (``nvidia.com/gpu`` allocatable)
and its startup taints are gone; only then do pods bind to it (binding earlier raced the GPU device
plugin: aws/karpenter-provider-aws#1459). Where no GPU operator runs (the simulated clusters), this phase
stands in for it and removes the startup taints once the GPUs have registered.
"""

from __future__ import annotations

from typing import Any

from infleet.api.karpenter_sh.v1.node_claim import INITIALIZED, READY, REGISTERED
from infleet.api.kubernetes import NODE
from infleet.api.labels import GPU_RESOURCE, NODE_INITIALIZED_LABEL
from infleet.api.quantity import parse_quantity
from infleet.compute.lifecycle.claim_run import ClaimRun, set_claim_condition
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import is_true
from infleet.kube.reconciler import Result

POLL_SECONDS = 2.0


def gpus_registered(node: dict[str, Any]) -> bool:
    """Every GPU the node has is allocatable (a node without GPUs has nothing to wait for)."""
    status = node.get("status") or {}
    wanted = parse_quantity((status.get("capacity") or {}).get(GPU_RESOURCE, 0))
    return parse_quantity((status.get("allocatable") or {}).get(GPU_RESOURCE, 0)) >= wanted


class Initialization:
    def __init__(self, client: ClusterClient, clock: Clock, remove_startup_taints: bool = True) -> None:
        self.client, self.clock = client, clock
        self.remove_startup_taints = remove_startup_taints

    def _startup_keys(self, run: ClaimRun) -> set[str]:
        return {t["key"] for t in (run.claim.get("spec") or {}).get("startupTaints") or []}

    async def reconcile(self, run: ClaimRun) -> Result:
        node = run.node
        if node is None or not run.has(REGISTERED) or run.has(INITIALIZED):
            return Result()
        if not is_true((node.get("status") or {}).get("conditions"), "Ready"):
            return Result(requeue_after=POLL_SECONDS)
        if not gpus_registered(node):
            return Result(requeue_after=POLL_SECONDS)
        startup = self._startup_keys(run)
        taints = (node.get("spec") or {}).get("taints") or []
        left = [t for t in taints if t.get("key") in startup]
        if left and not self.remove_startup_taints:
            return Result(requeue_after=POLL_SECONDS)
        kept = [t for t in taints if t.get("key") not in startup]
        patch = {"metadata": {"labels": {NODE_INITIALIZED_LABEL: "true"}}, "spec": {"taints": kept}}
        run.node = await self.client.patch(NODE, node["metadata"]["name"], patch)
        await set_claim_condition(self.client, run, self.clock, INITIALIZED, True, "Initialized")
        await set_claim_condition(self.client, run, self.clock, READY, True, "Ready")
        return Result()
