"""Fleet discovery: the gateway's models, live from the Kubernetes API. It watches ModelDeployments (a
hub's copies, or a member's own) and, on a hub, MemberClusters (region, cloud, health), and hands the
models ``fleet_routes`` builds to the app whenever they change, a few milliseconds after a burst of
events settles. Started by the app when the gateway runs with ``--context``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT
from infleet.api.catalog import Catalog, load_catalog
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import MEMBER_CLUSTER
from infleet.gateway.config import ModelConfig
from infleet.gateway.fleet_routes import member_facts, model_configs
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.discovery import Discovery, UnknownKindError
from infleet.kube.informer import Informer, InformerEvent

log = logging.getLogger("infleet.gateway")

ApplyModels = Callable[[list[ModelConfig]], None]


class FleetDiscovery:
    def __init__(
        self,
        client: ClusterClient,
        catalog: Catalog | None = None,
        local_cluster: str = "",
        settle: float = 0.01,
    ) -> None:
        self.client = client
        self.catalog = catalog or load_catalog()
        self.local_cluster = local_cluster  # the cluster a member's own copies live in
        self.settle = settle
        self.deployments = Informer(client, MODEL_DEPLOYMENT)
        self.members: Informer | None = None
        self.published: list[ModelConfig] | None = None
        self._changed = asyncio.Event()

    async def run(self, apply: ApplyModels, stop: asyncio.Event | None = None) -> None:
        """Follow the API and apply each new set of models, until cancelled or ``stop`` is set."""
        stop = stop or asyncio.Event()
        if await self._is_hub():
            self.members = Informer(self.client, MEMBER_CLUSTER)
        informers = [i for i in (self.deployments, self.members) if i is not None]
        for informer in informers:
            informer.add_handler(self._on_event)
        tasks = [asyncio.create_task(informer.run(stop)) for informer in informers]
        try:
            for informer in informers:
                await informer.wait_synced()
            while not stop.is_set():
                self._publish(apply)
                await self._changed.wait()
                await asyncio.sleep(self.settle)  # one rebuild for a burst of events
                self._changed.clear()
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def models(self) -> list[ModelConfig]:
        members = member_facts(self.members.store.list()) if self.members is not None else {}
        return model_configs(self.deployments.store.list(), members, self.catalog, self.local_cluster)

    def _on_event(self, event: InformerEvent) -> None:
        self._changed.set()

    def _publish(self, apply: ApplyModels) -> None:
        models = self.models()
        if models != self.published:
            self.published = models
            apply(models)

    async def _is_hub(self) -> bool:
        """A hub serves MemberClusters; a member cluster (or a plain cluster) does not."""
        try:
            await Discovery(self.client).resolve(MEMBER_CLUSTER.api_version, MEMBER_CLUSTER.kind)
        except UnknownKindError:
            return False
        return True
