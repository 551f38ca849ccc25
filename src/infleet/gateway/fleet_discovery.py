"""Fleet discovery: the gateway's models and keys, live from the Kubernetes API. It watches
ModelDeployments (a hub's copies, or a member's own), on a hub MemberClusters (region, cloud, health),
where served the gateway's own ModelRoutes and GatewayKeys with the Secrets they name, and GIE
InferencePools with the Pods they select and the Nodes those run on (their regions); ``fleet_config``
turns them into models and keys, handed to the app a few milliseconds after a burst of events settles.
Started by the app with ``--context``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT
from infleet.api.catalog import Catalog, load_catalog
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import MEMBER_CLUSTER
from infleet.api.gateway_aitoolchain_io.v1alpha1.gateway_key import GATEWAY_KEY
from infleet.api.gateway_aitoolchain_io.v1alpha1.model_route import MODEL_ROUTE
from infleet.api.inference_networking_k8s_io.v1.inference_pool import INFERENCE_POOL
from infleet.api.kubernetes import NODE, POD, SECRET
from infleet.api.resource_kind import ResourceKind
from infleet.gateway.config import KeyConfig, ModelConfig
from infleet.gateway.fleet_config import FleetConfig, FleetObjects, fleet_config
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.discovery import Discovery, UnknownKindError
from infleet.kube.informer import EventHandler, Informer, InformerEvent

log = logging.getLogger("infleet.gateway")

ApplyFleet = Callable[[list[ModelConfig], list[KeyConfig]], None]


class FleetDiscovery:
    def __init__(
        self,
        client: ClusterClient,
        catalog: Catalog | None = None,
        local_cluster: str = "",
        settle: float = 0.01,
        write_status: bool = True,
    ) -> None:
        self.client = client
        # Whether the gateway reports status on the ModelRoutes and GatewayKeys it reads (see status_writer).
        self.write_status = write_status
        self.catalog = catalog or load_catalog()
        self.local_cluster = local_cluster  # the cluster a member's own copies live in
        self.settle = settle
        self.informers: dict[str, Informer] = {}
        self.published: FleetConfig | None = None
        self._changed = asyncio.Event()
        self._handlers: list[tuple[str, EventHandler]] = []

    def watch(self, name: str, handler: EventHandler) -> None:
        """Call `handler` on every event of the informer named `name` (e.g. "routes"), once it runs."""
        self._handlers.append((name, handler))

    async def run(self, apply: ApplyFleet, stop: asyncio.Event | None = None) -> None:
        """Follow the API and apply each new set of models and keys, until cancelled or ``stop`` is set."""
        stop = stop or asyncio.Event()
        self.informers = {name: Informer(self.client, kind) for name, kind in (await self._served()).items()}
        for informer in self.informers.values():
            informer.add_handler(self._on_event)
        for name, handler in self._handlers:
            if name in self.informers:
                self.informers[name].add_handler(handler)
        tasks = [asyncio.create_task(informer.run(stop)) for informer in self.informers.values()]
        try:
            for informer in self.informers.values():
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

    def config(self) -> FleetConfig:
        def listed(name: str) -> list[dict[str, Any]]:
            informer = self.informers.get(name)
            return informer.store.list() if informer is not None else []

        objects = FleetObjects(
            deployments=listed("deployments"),
            members=listed("members"),
            routes=listed("routes"),
            keys=listed("keys"),
            secrets=listed("secrets"),
            pools=listed("pools"),
            pods=listed("pods"),
            nodes=listed("nodes"),
        )
        return fleet_config(objects, self.catalog, self.local_cluster)

    def models(self) -> list[ModelConfig]:
        return self.config().models

    def _on_event(self, event: InformerEvent) -> None:
        self._changed.set()

    def _publish(self, apply: ApplyFleet) -> None:
        config = self.config()
        if config != self.published:
            self.published = config
            apply(config.models, config.keys)

    async def _served(self) -> dict[str, ResourceKind]:
        """The kinds to follow: a hub serves MemberClusters; the gateway's and GIE's kinds where installed.
        Secrets, Pods and Nodes (their regions) only with the kinds that need them, so a plain gateway
        reads none of them."""
        kinds = {"deployments": MODEL_DEPLOYMENT}
        if await self._serves(MEMBER_CLUSTER):
            kinds["members"] = MEMBER_CLUSTER
        if await self._serves(MODEL_ROUTE):
            kinds |= {"routes": MODEL_ROUTE, "keys": GATEWAY_KEY, "secrets": SECRET}
        if await self._serves(INFERENCE_POOL):
            kinds |= {"pools": INFERENCE_POOL, "pods": POD, "nodes": NODE}
        return kinds

    async def _serves(self, kind: ResourceKind) -> bool:
        try:
            await Discovery(self.client).resolve(kind.api_version, kind.kind)
        except UnknownKindError:
            return False
        return True
