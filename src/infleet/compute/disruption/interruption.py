"""Spot interruptions: every pass the provider's notices are read, and for each reclaimed instance with a
NodeClaim a replacement with the same requirements is created first; the old claim is annotated with the
deadline, its node tainted, and the claim deleted, so termination drains it at once and forces the drain
ahead of the deadline. Involuntary: budgets and do-not-disrupt do not hold it back.
"""

from __future__ import annotations

from infleet.api.karpenter_sh.v1.node_claim import NODE_CLAIM
from infleet.api.labels import INTERRUPTION_DEADLINE_ANNOTATION
from infleet.compute.cloudprovider.provider import CloudProvider, Interruption
from infleet.compute.disruption.command import Command
from infleet.compute.disruption.orchestrator import Orchestrator
from infleet.compute.disruption.replacement import replacement_claim
from infleet.compute.disruption.state import Snapshot, StateNode
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.finalizers import is_being_deleted

INTERRUPTION = "Interruption"


class InterruptionHandler:
    def __init__(self, client: ClusterClient, provider: CloudProvider, orchestrator: Orchestrator) -> None:
        self.client = client
        self.provider = provider
        self.orchestrator = orchestrator
        #: provider IDs already acted on (notices repeat until the instance is gone)
        self.handled: set[str] = set()

    async def handle(self, snapshot: Snapshot) -> int:
        """Act on new notices; how many NodeClaims were interrupted."""
        by_provider_id = {
            str((state.claim.get("status") or {}).get("providerID")): state for state in snapshot.nodes
        }
        acted = 0
        for notice in await self.provider.interruptions():
            state = by_provider_id.get(notice.provider_id)
            if state is None or notice.provider_id in self.handled or is_being_deleted(state.claim):
                continue
            await self._interrupt(state, notice)
            self.handled.add(notice.provider_id)
            acted += 1
        return acted

    async def _interrupt(self, state: StateNode, notice: Interruption) -> None:
        command = Command(
            INTERRUPTION, notice.reason, message=f"the cloud reclaims it at {notice.deadline:.0f}"
        )
        await self.orchestrator.replace(
            [state], command, replacement_claim(state.claim, state.pool_name, None)
        )
        # The old node goes now, not once the replacement is up: the deadline will not wait.
        self.orchestrator.pending = {
            k: v for k, v in self.orchestrator.pending.items() if state.name not in v.olds
        }
        patch = {"metadata": {"annotations": {INTERRUPTION_DEADLINE_ANNOTATION: f"{notice.deadline:.3f}"}}}
        try:
            await self.client.patch(NODE_CLAIM, state.name, patch)
        except KubeAPIError as error:
            if not error.not_found:
                raise
        await self.orchestrator.delete(state, f"{notice.reason}: {command.message}")
