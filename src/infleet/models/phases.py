"""The phases of one ModelDeployment reconcile, each a small sub-reconciler over a :class:`Reconciling`.

sizing -> autoscaling -> workload -> observation -> status. Each phase reads what the earlier ones
recorded on the shared :class:`~infleet.models.status.Outcome` and adds its own finding; every phase runs
even when an earlier one failed (``infleet.kube.sub_reconciler``), so a failed write still ends in a
status that says what runs. The workload and autoscaling phases live in modules of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infleet.api.aitoolchain_io.v1.model_deployment import CONDITION_SIZED, MODEL_DEPLOYMENT
from infleet.api.catalog import Catalog
from infleet.api.labels import MODEL_DEPLOYMENT_LABEL
from infleet.api.offerings import Offering, cluster_offerings, provisionable_offerings
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import get_condition
from infleet.kube.events import EventRecorder
from infleet.kube.informer import Informer
from infleet.kube.reconciler import Result
from infleet.kube.status_patch import patch_status
from infleet.models.autoscaler import Autoscaler
from infleet.models.readiness import observe
from infleet.models.replica_ownership import running_replicas
from infleet.models.spec_phase import SpecError, parse_spec, resolve_model, size_replica
from infleet.models.status import Outcome, write_status
from infleet.models.telemetry import TelemetryScraper


@dataclass
class Informers:
    model_deployments: Informer
    deployments: Informer
    statefulsets: Informer
    services: Informer
    pods: Informer
    nodes: Informer


@dataclass
class Reconciling:
    """One reconcile of one object: the object as read and what the phases found so far."""

    obj: dict[str, Any]
    outcome: Outcome = field(default_factory=Outcome)

    @property
    def key(self) -> str:
        return f"{self.obj['metadata']['namespace']}/{self.obj['metadata']['name']}"

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.obj["metadata"]["namespace"])


class SizingPhase:
    """Parse the spec, resolve the model in the catalog, and size one replica onto the offerings."""

    def __init__(self, catalog: Catalog, nodes: Informer, provisionable: bool) -> None:
        self.catalog = catalog
        self.nodes = nodes
        self.provisionable = provisionable  # size onto SKUs the compute layer can create when none fit

    async def reconcile(self, run: Reconciling) -> Result:
        outcome = run.outcome
        try:
            outcome.spec = parse_spec(run.obj)
            model = resolve_model(self.catalog, outcome.spec)
            previous = (run.obj.get("status") or {}).get("sizing")
            replicas = running_replicas(outcome.spec, run.obj.get("status"))
            outcome.sizing = size_replica(outcome.spec, model, self._offerings(), previous, replicas)
        except SpecError as problem:
            outcome.problem = problem
        return Result()

    def _offerings(self) -> list[Offering]:
        offerings = cluster_offerings(self.catalog, self.nodes.store.list())
        if self.provisionable:
            offerings += provisionable_offerings(self.catalog)
        return offerings


class ObservationPhase:
    """What runs: pods and workloads of this deployment, and the engines to scrape."""

    def __init__(self, informers: Informers, catalog: Catalog, scraper: TelemetryScraper) -> None:
        self.informers = informers
        self.catalog = catalog
        self.scraper = scraper

    async def reconcile(self, run: Reconciling) -> Result:
        outcome = run.outcome
        multi_node = outcome.sizing is not None and outcome.sizing.nodes_per_replica > 1
        workload_store = (self.informers.statefulsets if multi_node else self.informers.deployments).store
        workloads = self._mine(run, workload_store.by_label(MODEL_DEPLOYMENT_LABEL, run.name))
        nodes = {n["metadata"]["name"]: n for n in self.informers.nodes.store.list()}
        pods = self._mine(run, self.informers.pods.store.by_label(MODEL_DEPLOYMENT_LABEL, run.name))
        outcome.observed = observe(pods, nodes, workloads, self.catalog, multi_node)
        if outcome.sizing is None:  # nothing was applied: what runs is what is wanted for now
            outcome.desired = outcome.observed.total_replicas
        self.scraper.set_targets(run.key, outcome.observed.endpoints)
        return Result()

    @staticmethod
    def _mine(run: Reconciling, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [item for item in items if item["metadata"].get("namespace") == run.namespace]


class StatusPhase:
    """Tell the story: an Event when the sizing outcome changes, then one status patch."""

    def __init__(
        self,
        client: ClusterClient,
        events: EventRecorder,
        scraper: TelemetryScraper,
        autoscaler: Autoscaler,
        clock: Clock,
    ) -> None:
        self.client = client
        self.events = events
        self.scraper = scraper
        self.autoscaler = autoscaler
        self.clock = clock
        # The cache may not show our last status write yet; remember what was said per object.
        self._said: dict[str, tuple[str, str, str]] = {}

    def forget(self, key: str) -> None:
        self._said.pop(key, None)

    async def reconcile(self, run: Reconciling) -> Result:
        await self._record_sizing(run)
        outcome = run.outcome
        outcome.serving = self.scraper.serving.get(run.key)
        state = self.autoscaler.states.get(run.key)
        outcome.last_active_wall = state.last_active_wall if state is not None else None
        now = self.clock.wall()
        await patch_status(
            self.client, MODEL_DEPLOYMENT, run.obj, lambda status: write_status(status, run.obj, outcome, now)
        )
        return Result()

    async def _record_sizing(self, run: Reconciling) -> None:
        outcome = run.outcome
        before = get_condition((run.obj.get("status") or {}).get("conditions"), CONDITION_SIZED) or {}
        if outcome.problem is not None:
            event = ("Warning", outcome.problem.reason, str(outcome.problem))
        elif outcome.sizing is not None:
            event = ("Normal", "Sized", outcome.sizing.reason)
        else:
            return
        if before.get("message") == event[2] or self._said.get(run.key) == event:
            return
        self._said[run.key] = event
        await self.events.record(run.obj, *event)
