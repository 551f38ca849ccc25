"""Entry point of the models controller for one cluster: :func:`add_models_controller` wires the
ModelDeployment reconciler, its informers, the telemetry scraper and its Prometheus collector into a
Manager (``infleet up`` adds one per member cluster); :func:`build_manager` gives it a Manager of its
own and :func:`run` runs that until stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT
from infleet.api.catalog import load_catalog
from infleet.api.kubernetes import DEPLOYMENT, NODE, POD, SERVICE, STATEFULSET
from infleet.api.labels import MODEL_DEPLOYMENT_LABEL
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.controller import ControllerSettings
from infleet.kube.informer import InformerEvent, InformerSettings
from infleet.kube.manager import Manager, ManagerSettings
from infleet.kube.reconciler import Request
from infleet.models.reconciler import Informers, ModelDeploymentReconciler, ReconcilerSettings
from infleet.models.telemetry import TelemetryCollector, TelemetryScraper


@dataclass
class ModelsSettings:
    manager: ManagerSettings = field(default_factory=lambda: ManagerSettings(name="infleet-models"))
    reconciler: ReconcilerSettings = field(default_factory=ReconcilerSettings)
    scrape_interval: float = 5.0
    rate_window: float = 30.0
    workers: int = 2
    needs_leader: bool = False


def build_manager(
    client: ClusterClient,
    settings: ModelsSettings | None = None,
    clock: Clock | None = None,
    scrape_transport: httpx.AsyncBaseTransport | None = None,
) -> Manager:
    """A Manager running the models controller against ``client``'s cluster (``scrape_transport``: tests)."""
    settings = settings or ModelsSettings()
    leader = client if settings.manager.leader_election is not None else None
    manager = Manager(settings.manager, leader_client=leader, clock=clock)
    add_models_controller(manager, client, settings, clock, scrape_transport)
    return manager


def add_models_controller(
    manager: Manager,
    client: ClusterClient,
    settings: ModelsSettings | None = None,
    clock: Clock | None = None,
    scrape_transport: httpx.AsyncBaseTransport | None = None,
) -> ModelDeploymentReconciler:
    """Add the models controller of ``client``'s cluster to an existing Manager (``infleet up``)."""
    settings = settings or ModelsSettings()
    clock = clock or SystemClock()
    owned = InformerSettings(label_selector=MODEL_DEPLOYMENT_LABEL)
    informers = Informers(
        model_deployments=manager.informer(client, MODEL_DEPLOYMENT),
        deployments=manager.informer(client, DEPLOYMENT, owned),
        statefulsets=manager.informer(client, STATEFULSET, owned),
        services=manager.informer(client, SERVICE, owned),
        pods=manager.informer(client, POD, owned),
        nodes=manager.informer(client, NODE),
    )
    scraper = TelemetryScraper(
        settings.scrape_interval, clock, scrape_transport, rate_window=settings.rate_window
    )
    manager.metrics.registry.register(TelemetryCollector(scraper, client.name))
    reconciler = ModelDeploymentReconciler(
        client, informers, load_catalog(), scraper, clock, settings.reconciler
    )
    controller = manager.controller(
        "modeldeployment",
        reconciler,
        ControllerSettings(workers=settings.workers, needs_leader=settings.needs_leader),
    )
    controller.watch_for(informers.model_deployments)
    for informer in (informers.deployments, informers.statefulsets, informers.services):
        controller.watch_owned(informer, "ModelDeployment", "aitoolchain.io")
    controller.watch_mapped(
        informers.pods,
        lambda event: [
            Request(event.cluster, event.obj["metadata"].get("namespace", ""), name)
            for name in [(event.obj["metadata"].get("labels") or {}).get(MODEL_DEPLOYMENT_LABEL)]
            if name
        ],
    )

    def nodes_changed(event: InformerEvent) -> list[Request]:
        # Node labels and spec matter to sizing; heartbeats (status-only changes) are ignored.
        old, new = event.old, event.obj
        if (
            old is not None
            and (old.get("metadata") or {}).get("labels") == (new.get("metadata") or {}).get("labels")
            and (old.get("spec") or {}) == (new.get("spec") or {})
        ):
            return []
        return [
            Request(client.name, md["metadata"].get("namespace", ""), md["metadata"]["name"])
            for md in informers.model_deployments.store.list()
        ]

    controller.watch_mapped(informers.nodes, nodes_changed)

    def scraped(key: str) -> None:
        namespace, _, name = key.partition("/")
        controller.queue.add(Request(client.name, namespace, name))

    scraper.on_update = scraped
    manager.add(scraper)
    return reconciler


async def run(client: ClusterClient, settings: ModelsSettings | None = None) -> None:
    """Run the models controller for one cluster until SIGINT/SIGTERM or ``Manager.stop``."""
    await build_manager(client, settings).run()
