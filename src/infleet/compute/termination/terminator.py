"""The termination reconciler (Karpenter's node termination), over NodeClaims being deleted that still
carry ``karpenter.sh/termination``: taint the node, drain it, delete the Node, terminate the instance
(already gone is fine), then release the finalizer. Each step is re-checked on every pass, so a restart
resumes where it stopped; the drain is forced once ``terminationGracePeriod`` has passed since this
process first saw the deletion, or near a spot reclaim's deadline.
"""

from __future__ import annotations

import logging
from typing import Any

from infleet.api.karpenter_sh.v1.node_claim import DRAINED, NODE_CLAIM
from infleet.api.kubernetes import NODE
from infleet.api.labels import INTERRUPTION_DEADLINE_ANNOTATION, NODECLAIM_LABEL, TERMINATION_FINALIZER
from infleet.compute.cloudprovider.provider import CloudProvider, NotFoundError
from infleet.compute.disruption_settings import DisruptionSettings
from infleet.compute.durations import parse_duration
from infleet.compute.termination import taints
from infleet.compute.termination.drain import drain
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import is_true, set_object_condition
from infleet.kube.events import NORMAL, EventRecorder
from infleet.kube.finalizers import has_finalizer, is_being_deleted, remove_finalizer
from infleet.kube.reconciler import Request, Result
from infleet.kube.store import Store

log = logging.getLogger(__name__)


def node_for_claim(claim: dict[str, Any], nodes: Store) -> dict[str, Any] | None:
    """The claim's Node: by ``status.nodeName``, else by the ``karpenter.sh/nodeclaim`` label."""
    name = (claim.get("status") or {}).get("nodeName")
    node = nodes.get(name) if name else None
    if node is None:
        labelled = nodes.by_label(NODECLAIM_LABEL, claim["metadata"]["name"])
        node = labelled[0] if labelled else None
    return node


class TerminationReconciler:
    """Finishes the deletion of NodeClaims; one per cluster, fed by NodeClaim and Node informers."""

    def __init__(
        self,
        client: ClusterClient,
        provider: CloudProvider,
        stores: tuple[Store, Store, Store],
        recorder: EventRecorder,
        clock: Clock,
        settings: DisruptionSettings,
    ) -> None:
        self.client = client
        self.provider = provider
        self.claims, self.nodes, self.pods = stores
        self.recorder = recorder
        self.clock = clock
        self.settings = settings
        #: When this process first saw each deletion (uid -> monotonic s): the grace period's start.
        self._started: dict[str, float] = {}

    async def reconcile(self, request: Request) -> Result:
        claim = self.claims.get(request.name)
        if claim is None or not is_being_deleted(claim) or not has_finalizer(claim, TERMINATION_FINALIZER):
            return Result()
        uid = str(claim["metadata"].get("uid"))
        self._started.setdefault(uid, self.clock.now())
        node = node_for_claim(claim, self.nodes)
        if node is not None:
            if not await self._drained(claim, node):
                return Result(requeue_after=self.settings.drain_retry_seconds)
            await self._delete_node(node)
        await self._terminate_instance(claim)
        await remove_finalizer(self.client, NODE_CLAIM, claim, TERMINATION_FINALIZER)
        self._started.pop(uid, None)
        await self.recorder.record(
            claim, NORMAL, "Terminated", "node drained and deleted, instance terminated"
        )
        return Result()

    def _forced(self, claim: dict[str, Any]) -> bool:
        started = self._started[str(claim["metadata"].get("uid"))]
        grace = parse_duration((claim.get("spec") or {}).get("terminationGracePeriod"))
        if grace is not None and self.clock.now() - started >= grace:
            return True
        annotations = claim["metadata"].get("annotations") or {}
        deadline = annotations.get(INTERRUPTION_DEADLINE_ANNOTATION)
        margin = self.settings.interruption_drain_margin_seconds
        return deadline is not None and self.clock.wall() >= float(deadline) - margin

    async def _drained(self, claim: dict[str, Any], node: dict[str, Any]) -> bool:
        await taints.taint(self.client, node)
        progress = await drain(self.client, self.pods.list(), node["metadata"]["name"], self._forced(claim))
        if progress.blocked_by:
            await self.recorder.record(claim, NORMAL, "DrainWaiting", progress.blocked_by)
        if not progress.done:
            return False
        await self._mark_drained(claim)
        return True

    async def _mark_drained(self, claim: dict[str, Any]) -> None:
        if is_true((claim.get("status") or {}).get("conditions"), DRAINED):
            return
        updated = {"metadata": dict(claim["metadata"]), "status": dict(claim.get("status") or {})}
        updated["status"]["conditions"] = [dict(c) for c in updated["status"].get("conditions") or []]
        set_object_condition(updated, DRAINED, True, "Drained", now=self.clock.wall())
        patch = {"status": {"conditions": updated["status"]["conditions"]}}
        try:
            await self.client.patch(NODE_CLAIM, claim["metadata"]["name"], patch, subresource="status")
        except KubeAPIError as error:
            if not error.not_found:
                raise

    async def _delete_node(self, node: dict[str, Any]) -> None:
        name = node["metadata"]["name"]
        try:
            if not is_being_deleted(node):
                await self.client.delete(NODE, name)
            # A Node that carries the finalizer too (deleted directly, or by us) is let go now it is drained.
            await remove_finalizer(
                self.client, NODE, await self.client.get(NODE, name), TERMINATION_FINALIZER
            )
        except KubeAPIError as error:
            if not error.not_found:
                raise

    async def _terminate_instance(self, claim: dict[str, Any]) -> None:
        provider_id = (claim.get("status") or {}).get("providerID")
        if not provider_id:
            return  # never launched: nothing to terminate
        try:
            await self.provider.delete(provider_id)
        except NotFoundError:
            log.debug("instance %s of %s already gone", provider_id, claim["metadata"]["name"])
