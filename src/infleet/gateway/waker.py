"""Waking a model scaled to zero: the wake annotation, stamped with the current time, on its
ModelDeployments. A member's copy is patched directly when the gateway holds a client for that cluster
(the member agent's apply keeps an annotation the hub does not set); otherwise the hub's copy, which
reaches the members with the next resource snapshot. Called by the wake queue, once per wake.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT
from infleet.api.labels import WAKE_ANNOTATION
from infleet.gateway.config import WakeTarget
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import timestamp

log = logging.getLogger("infleet.gateway")

# A member cluster's client by cluster name, or None when the gateway cannot reach that cluster.
MemberClients = Callable[[str], ClusterClient | None]


class Waker(Protocol):
    async def wake(self, model: str, targets: Sequence[WakeTarget]) -> None:
        """Asks for the model's deployments to run again; raises when no copy could be reached."""
        ...


class NodeRequester(Protocol):
    """The seam where the gateway will ask the compute layer for GPU nodes for a woken deployment, so
    provisioning overlaps the wake. The compute layer (NodePools, NodeClaims) does not exist yet; until
    it does, a woken deployment that fits no node waits in ``ResourcesReady=False`` (AwaitingNodes)."""

    async def request_nodes(self, model: str, targets: Sequence[WakeTarget]) -> None: ...


class NoNodeRequests:
    async def request_nodes(self, model: str, targets: Sequence[WakeTarget]) -> None:
        return None


def _no_members(cluster: str) -> ClusterClient | None:
    return None


class AnnotationWaker:
    """Sets ``aitoolchain.io/wake-requested-at`` where the models controller reads it soonest."""

    def __init__(
        self,
        home: ClusterClient,
        members: MemberClients = _no_members,
        clock: Clock | None = None,
        nodes: NodeRequester | None = None,
    ) -> None:
        self.home = home  # the cluster discovery watches: a hub, or the member whose own copies it routes
        self.members = members
        self.clock = clock or SystemClock()
        self.nodes = nodes or NoNodeRequests()

    async def wake(self, model: str, targets: Sequence[WakeTarget]) -> None:
        patch: dict[str, Any] = {"metadata": {"annotations": {WAKE_ANNOTATION: timestamp(self.clock.wall())}}}
        await asyncio.gather(*(self._wake(target, patch) for target in targets))
        await self.nodes.request_nodes(model, targets)

    async def _wake(self, target: WakeTarget, patch: dict[str, Any]) -> None:
        reached = await asyncio.gather(*(self._wake_member(c, target, patch) for c in target.clusters))
        if all(reached) and target.clusters:
            return
        # Some copy is out of reach (or the target is the copy discovery read): the hub's copy reaches it.
        await self.home.patch(MODEL_DEPLOYMENT, target.name, patch, target.namespace)

    async def _wake_member(self, cluster: str, target: WakeTarget, patch: dict[str, Any]) -> bool:
        client = self.members(cluster)
        if client is None:
            return False
        try:
            await client.patch(MODEL_DEPLOYMENT, target.name, patch, target.namespace)
        except Exception as exc:  # any failure (API error, network) falls back to the hub's copy
            log.warning("wake of %s/%s in %s failed: %s", target.namespace, target.name, cluster, exc)
            return False
        return True
