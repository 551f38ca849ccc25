"""The ModelDeployment reconciler: small phases in order over one object, one status patch per reconcile.

sizing (catalog + offerings) -> autoscaling (the count to run; never written to spec) -> workload
(render and apply) -> observation (pods, telemetry targets) -> status. A spec that does not parse or
does not fit leaves the running workload alone and says why in conditions. The phases are
sub-reconcilers (``infleet.kube.sub_reconciler``): each runs even when one before it failed, the soonest
requeue wins and errors are raised together. ``manager.build_manager`` wires this to informers.
"""

from __future__ import annotations

from dataclasses import dataclass

from infleet.api.catalog import Catalog
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.events import EventRecorder
from infleet.kube.reconciler import Request, Result
from infleet.kube.sub_reconciler import SubReconciler, reconcile_phases
from infleet.models.autoscaler import Autoscaler
from infleet.models.autoscaling_phase import AutoscalingPhase
from infleet.models.phases import Informers, ObservationPhase, Reconciling, SizingPhase, StatusPhase
from infleet.models.telemetry import TelemetryScraper
from infleet.models.workload_phase import WorkloadPhase

__all__ = ["Informers", "ModelDeploymentReconciler", "ReconcilerSettings"]


@dataclass
class ReconcilerSettings:
    provisionable: bool = True  # size onto SKUs the compute layer can create when none in the cluster fit
    autoscale_interval: float = 5.0


class ModelDeploymentReconciler:
    def __init__(
        self,
        client: ClusterClient,
        informers: Informers,
        catalog: Catalog,
        scraper: TelemetryScraper,
        clock: Clock,
        settings: ReconcilerSettings | None = None,
    ) -> None:
        self.informers = informers
        self.scraper = scraper
        self.settings = settings or ReconcilerSettings()
        self.autoscaler = Autoscaler()
        events = EventRecorder(client, "infleet-models", clock)
        self.status = StatusPhase(client, events, scraper, self.autoscaler, clock)
        self.phases: list[SubReconciler[Reconciling]] = [
            SizingPhase(catalog, informers.nodes, self.settings.provisionable),
            AutoscalingPhase(self.autoscaler, scraper, events, clock, self.settings.autoscale_interval),
            WorkloadPhase(client, catalog, informers),
            ObservationPhase(informers, catalog, scraper),
            self.status,
        ]

    async def reconcile(self, request: Request) -> Result:
        obj = self.informers.model_deployments.store.get(request.name, request.namespace)
        if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            key = f"{request.namespace}/{request.name}"
            self.scraper.forget(key)
            self.autoscaler.forget(key)
            self.status.forget(key)
            return Result()  # owned objects go with it (owner references)
        return await reconcile_phases(self.phases, Reconciling(obj))
