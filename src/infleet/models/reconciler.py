"""The ModelDeployment reconciler: a sequence of small phases, one status patch per reconcile.

parse spec -> size (catalog + offerings) -> autoscale (writes spec.replicas) -> render and apply the
workload -> observe pods -> register telemetry targets -> write status. A spec that does not parse or
does not fit leaves the running workload alone and says why in conditions. ``manager.build_manager``
wires it to informers.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from infleet.api.aitoolchain_io.v1.model_deployment import CONDITION_SIZED, MODEL_DEPLOYMENT
from infleet.api.catalog import Catalog
from infleet.api.kubernetes import DEPLOYMENT, SERVICE, STATEFULSET
from infleet.api.labels import MODEL_DEPLOYMENT_LABEL, RENDERED_HASH_ANNOTATION, WAKE_ANNOTATION
from infleet.api.offerings import Offering, cluster_offerings, provisionable_offerings
from infleet.api.resource_kind import ResourceKind
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import get_condition
from infleet.kube.events import EventRecorder
from infleet.kube.informer import Informer
from infleet.kube.owner_references import controller_of
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status
from infleet.models.autoscaler import Autoscaler, parse_time
from infleet.models.readiness import observe
from infleet.models.spec_phase import SpecError, parse_spec, resolve_model, size_replica
from infleet.models.status import Outcome, write_status
from infleet.models.telemetry import TelemetryScraper
from infleet.models.workload import WorkloadInput, render

log = logging.getLogger(__name__)


@dataclass
class Informers:
    model_deployments: Informer
    deployments: Informer
    statefulsets: Informer
    services: Informer
    pods: Informer
    nodes: Informer


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
        self.client = client
        self.informers = informers
        self.catalog = catalog
        self.scraper = scraper
        self.clock = clock
        self.settings = settings or ReconcilerSettings()
        self.autoscaler = Autoscaler()
        self.events = EventRecorder(client, "infleet-models", clock)
        self._said: dict[str, tuple[str, str, str]] = {}

    async def reconcile(self, request: Request) -> Result:
        obj = self.informers.model_deployments.store.get(request.name, request.namespace)
        key = f"{request.namespace}/{request.name}"
        if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            self.scraper.forget(key)
            self.autoscaler.forget(key)
            self._said.pop(key, None)
            return Result()  # owned objects go with it (owner references)
        outcome = Outcome()
        try:
            outcome.spec = parse_spec(obj)
            model = resolve_model(self.catalog, outcome.spec)
            previous = (obj.get("status") or {}).get("sizing")
            outcome.sizing = size_replica(outcome.spec, model, self._offerings(), previous)
        except SpecError as problem:
            outcome.problem = problem
        if outcome.spec is not None and outcome.sizing is not None:
            outcome.desired = await self._autoscale(obj, outcome, key)
            await self._apply(obj, outcome)
        self._observe(obj, outcome)
        self.scraper.set_targets(key, outcome.observed.endpoints)
        await self._record_sizing(obj, outcome, key)
        await self._write_status(obj, outcome, key)
        spec = outcome.spec
        if spec is not None and spec.autoscaling is not None:
            return Result(requeue_after=self.settings.autoscale_interval)
        return Result()

    # -- phases ------------------------------------------------------------------------------------

    def _offerings(self) -> list[Offering]:
        offerings = cluster_offerings(self.catalog, self.informers.nodes.store.list())
        if self.settings.provisionable:
            offerings += provisionable_offerings(self.catalog)
        return offerings

    async def _record_sizing(self, obj: dict[str, Any], outcome: Outcome, key: str) -> None:
        """An Event when the sizing outcome changes, so ``kubectl describe`` tells the story."""
        before = get_condition((obj.get("status") or {}).get("conditions"), CONDITION_SIZED) or {}
        if outcome.problem is not None:
            event = ("Warning", outcome.problem.reason, str(outcome.problem))
        elif outcome.sizing is not None:
            event = ("Normal", "Sized", outcome.sizing.reason)
        else:
            return
        # The cache may not show our last status write yet; remember what was said per object.
        if before.get("message") == event[2] or self._said.get(key) == event:
            return
        self._said[key] = event
        await self.events.record(obj, *event)

    async def _autoscale(self, obj: dict[str, Any], outcome: Outcome, key: str) -> int:
        spec = outcome.spec
        assert spec is not None
        if spec.autoscaling is None:
            return spec.replicas
        status = obj.get("status") or {}
        wake_at = parse_time((obj["metadata"].get("annotations") or {}).get(WAKE_ANNOTATION))
        slept_at = parse_time((status.get("autoscaling") or {}).get("lastScaleTime"))
        wake = wake_at is not None and (slept_at is None or wake_at >= slept_at)
        moment = self.clock.now()
        decision = self.autoscaler.decide(
            key,
            spec.autoscaling,
            spec.replicas,
            int(status.get("readyReplicas") or 0),
            self.scraper.serving.get(key),
            moment,
            wake,
        )
        state = self.autoscaler.states[key]
        if state.last_active == moment:
            state.last_active_wall = self.clock.wall()
        outcome.decision = decision
        if decision.replicas != spec.replicas:
            await self.client.patch(
                MODEL_DEPLOYMENT,
                obj["metadata"]["name"],
                {"spec": {"replicas": decision.replicas}},
                obj["metadata"]["namespace"],
            )
            await self.events.record(obj, "Normal", decision.reason, decision.message)
        return decision.replicas

    async def _apply(self, obj: dict[str, Any], outcome: Outcome) -> None:
        spec, sizing = outcome.spec, outcome.sizing
        assert spec is not None
        assert sizing is not None
        model = None if sizing.kv_bytes_per_token == 0 else self.catalog.model(sizing.model)
        data = WorkloadInput(
            owner=obj,
            spec=spec,
            sizing=sizing,
            model_id=model.name if model else spec.model.removeprefix("hf:"),
            served_name=spec.served_model_name
            or (model.served_name if model else spec.model.rsplit("/")[-1].lower()),
            weights_gib=model.size_on_disk_gib if model else None,
            replicas=outcome.desired,
        )
        rendered = render(data)
        namespace = obj["metadata"]["namespace"]
        pairs = [
            (DEPLOYMENT, self.informers.deployments, rendered.deployments),
            (STATEFULSET, self.informers.statefulsets, rendered.statefulsets),
            (SERVICE, self.informers.services, rendered.services),
        ]
        # Independent objects: written concurrently, so a new deployment's first reconcile is one round trip.
        await asyncio.gather(
            *(self._upsert(kind, informer, item) for kind, informer, desired in pairs for item in desired)
        )
        for kind, informer, desired in pairs:
            keep = {item["metadata"]["name"] for item in desired}
            for stale in informer.store.by_label(MODEL_DEPLOYMENT_LABEL, obj["metadata"]["name"]):
                ref = controller_of(stale)
                if (
                    stale["metadata"].get("namespace") == namespace
                    and stale["metadata"]["name"] not in keep
                    and ref is not None
                    and ref.get("uid") == obj["metadata"]["uid"]
                ):
                    await self._delete(kind, stale)

    async def _upsert(self, kind: ResourceKind, informer: Informer, desired: dict[str, Any]) -> None:
        metadata = desired["metadata"]
        current = informer.store.get(metadata["name"], metadata["namespace"])
        # A 409 (changed or created meanwhile) propagates: the controller requeues it quietly.
        if current is None:
            await self.client.create(kind, desired)
            return
        if (current["metadata"].get("annotations") or {}).get(RENDERED_HASH_ANNOTATION) == metadata[
            "annotations"
        ][RENDERED_HASH_ANNOTATION]:
            return
        body = {
            **desired,
            "metadata": {**metadata, "resourceVersion": current["metadata"]["resourceVersion"]},
        }
        if kind == SERVICE:  # clusterIP is immutable once allocated
            body["spec"] = {
                **body["spec"],
                **{k: v for k, v in current["spec"].items() if k == "clusterIP"},
            }
        await self.client.replace(kind, body)

    async def _delete(self, kind: ResourceKind, obj: dict[str, Any]) -> None:
        try:
            await self.client.delete(kind, obj["metadata"]["name"], obj["metadata"]["namespace"])
        except KubeAPIError as error:
            if not error.not_found:
                raise

    def _observe(self, obj: dict[str, Any], outcome: Outcome) -> None:
        name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]

        def mine(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [i for i in items if i["metadata"].get("namespace") == namespace]

        multi_node = outcome.sizing is not None and outcome.sizing.nodes_per_replica > 1
        workloads = mine(
            self.informers.statefulsets.store.by_label(MODEL_DEPLOYMENT_LABEL, name)
            if multi_node
            else self.informers.deployments.store.by_label(MODEL_DEPLOYMENT_LABEL, name)
        )
        nodes = {n["metadata"]["name"]: n for n in self.informers.nodes.store.list()}
        pods = mine(self.informers.pods.store.by_label(MODEL_DEPLOYMENT_LABEL, name))
        outcome.observed = observe(pods, nodes, workloads, self.catalog, multi_node)
        if outcome.sizing is None:  # nothing was applied: what runs is what is wanted for now
            outcome.desired = outcome.observed.total_replicas

    async def _write_status(self, obj: dict[str, Any], outcome: Outcome, key: str) -> None:
        outcome.serving = self.scraper.serving.get(key)
        state = self.autoscaler.states.get(key)
        outcome.last_active_wall = state.last_active_wall if state is not None else None
        now = self.clock.wall()
        await patch_status(
            self.client, MODEL_DEPLOYMENT, obj, lambda status: write_status(status, obj, outcome, now)
        )
