"""The ModelDeployment reconciler: a sequence of small phases, one status patch per reconcile.

parse spec -> size (catalog + offerings) -> autoscale (writes spec.replicas) -> render and apply the
workload -> observe pods -> register telemetry targets -> write status. A spec that does not parse or
does not fit leaves the running workload alone and says why in conditions. ``manager.build_manager``
wires it to informers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from infleet.api.catalog import Catalog, CatalogError, ModelInfo
from infleet.api.model_deployment import (
    CONDITION_INFERENCE_READY,
    CONDITION_READY,
    CONDITION_RESOURCES_READY,
    CONDITION_SIZED,
    WAKE_ANNOTATION,
    AutoscalingStatus,
    ModelDeploymentSpec,
    Sizing,
)
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import get_condition, set_condition, timestamp
from infleet.kube.events import EventRecorder
from infleet.kube.informer import Informer
from infleet.kube.owner_references import controller_of
from infleet.kube.reconciler import Request, Result
from infleet.kube.resource_kind import ResourceKind
from infleet.kube.status_patch import patch_status
from infleet.models import engines
from infleet.models.autoscaler import Autoscaler, Decision, parse_time
from infleet.models.offerings import Offering, cluster_offerings, provisionable_offerings
from infleet.models.readiness import Observed, capacity_condition, inference_condition, observe
from infleet.models.sizing import SizingError, SizingRequest, size, to_status
from infleet.models.telemetry import TelemetryScraper
from infleet.models.workload import HASH_ANNOTATION, MD_LABEL, WorkloadInput, render, selector_string

log = logging.getLogger(__name__)

DEPLOYMENT = ResourceKind("apps", "v1", "Deployment", "deployments")
STATEFULSET = ResourceKind("apps", "v1", "StatefulSet", "statefulsets")
SERVICE = ResourceKind("", "v1", "Service", "services")
POD = ResourceKind("", "v1", "Pod", "pods")
NODE = ResourceKind("", "v1", "Node", "nodes", namespaced=False)
MODEL_DEPLOYMENT = ResourceKind("aitoolchain.io", "v1", "ModelDeployment", "modeldeployments")


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


class SpecError(Exception):
    """The spec cannot be served as written: (reason, message) for the Sized condition."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class Outcome:
    """What the phases found, turned into status at the end."""

    spec: ModelDeploymentSpec | None = None
    sizing: Sizing | None = None
    problem: SpecError | None = None
    observed: Observed = field(default_factory=Observed)
    decision: Decision | None = None
    desired: int = 0


def _field_path(location: tuple[int | str, ...]) -> str:
    return "spec." + ".".join(str(part) for part in location)


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
            if obj is not None:
                self._said.pop(obj["metadata"].get("uid", ""), None)
            return Result()  # owned objects go with it (owner references)
        outcome = Outcome()
        try:
            outcome.spec = self._parse(obj)
            model = self._model(outcome.spec)
            outcome.sizing = self._size(obj, outcome.spec, model)
        except SpecError as problem:
            outcome.problem = problem
        if outcome.spec is not None and outcome.sizing is not None:
            outcome.desired = await self._autoscale(obj, outcome, key)
            await self._apply(obj, outcome)
        self._observe(obj, outcome)
        self.scraper.set_targets(key, outcome.observed.endpoints)
        await self._record_sizing(obj, outcome)
        await self._write_status(obj, outcome, key)
        spec = outcome.spec
        if spec is not None and spec.autoscaling is not None:
            return Result(requeue_after=self.settings.autoscale_interval)
        return Result()

    # -- phases ------------------------------------------------------------------------------------

    def _parse(self, obj: dict[str, Any]) -> ModelDeploymentSpec:
        try:
            return ModelDeploymentSpec.model_validate(obj.get("spec") or {})
        except ValidationError as error:
            first = error.errors()[0]
            raise SpecError(
                "InvalidSpec", f"{_field_path(first['loc'])}: {first['msg']}; fix the field and apply again"
            ) from error

    def _model(self, spec: ModelDeploymentSpec) -> ModelInfo | None:
        name = spec.model.removeprefix("hf:")
        try:
            return self.catalog.model(name)
        except CatalogError as error:
            if spec.model.startswith("hf:") and spec.resources is not None and spec.resources.gpu:
                return None  # an uncatalogued Hugging Face model, sized by the user
            raise SpecError(
                "UnknownModel",
                f"spec.model: {error}; or give hf:org/name together with spec.resources.gpu",
            ) from error

    def _offerings(self) -> list[Offering]:
        offerings = cluster_offerings(self.catalog, self.informers.nodes.store.list())
        if self.settings.provisionable:
            offerings += provisionable_offerings(self.catalog)
        return offerings

    def _size(self, obj: dict[str, Any], spec: ModelDeploymentSpec, model: ModelInfo | None) -> Sizing:
        resources, args = spec.resources, spec.engine_args
        previous = ((obj.get("status") or {}).get("sizing")) or None
        if model is None:
            return self._user_sized(spec)
        request = SizingRequest(
            model=model,
            gpus=resources.gpu if resources else None,
            skus=tuple(resources.gpu_skus or ()) if resources else (),
            instance_type=resources.instance_type if resources else None,
            max_model_len=args.max_model_len if args else None,
            quantization=args.quantization if args else None,
            gpu_memory_utilization=args.gpu_memory_utilization if args else None,
            replicas=max(spec.replicas, 1),
        )
        sticky = None
        if previous and previous.get("model") == model.name:
            sticky = (previous.get("sku"), previous.get("tensorParallel"), previous.get("pipelineParallel"))
        try:
            plan = size(request, self._offerings(), sticky)
        except SizingError as error:
            raise SpecError("DoesNotFit", str(error)) from error
        if plan.nodes > 1 and spec.engine not in engines.MULTI_NODE:
            raise SpecError(
                "EngineUnsupported",
                f"spec.engine: {spec.engine} cannot span nodes, and {model.name} needs {plan.nodes} nodes of "
                f"{plan.offering.gpus_per_node} x {plan.offering.gpu.name}; use engine vllm or sglang",
            )
        return to_status(plan, model.name)

    def _user_sized(self, spec: ModelDeploymentSpec) -> Sizing:
        from infleet.api.model_deployment import MemoryBudget

        assert spec.resources is not None
        assert spec.resources.gpu is not None
        gpus = spec.resources.gpu
        offers = [o for o in self._offerings() if o.gpus_per_node >= gpus]
        wanted = {s.upper() for s in spec.resources.gpu_skus or ()}
        offers = [o for o in offers if not wanted or o.gpu.name.upper() in wanted]
        if not offers:
            raise SpecError("DoesNotFit", f"spec.resources.gpu={gpus}: no GPU node offers that many GPUs")
        offer = offers[0]
        return Sizing(
            model=spec.model,
            sku=offer.gpu.name,
            gpus_per_replica=gpus,
            gpus_per_node=gpus,
            tensor_parallel=gpus,
            max_model_len=spec.engine_args.max_model_len or 0 if spec.engine_args else 0,
            kv_cache_tokens=0,
            kv_bytes_per_token=0,
            memory=MemoryBudget(
                per_gpu_gib=offer.gpu.memory_gib, weights_gib=0, overhead_gib=0, kv_cache_gib=0
            ),
            cost_per_hour=round(gpus * offer.gpu_price, 4),
            source=offer.source,
            instance_type=offer.instance_type,
            node_selector=dict(offer.node_selector) or None,
            reason=f"not in the catalog: {gpus} x {offer.gpu.name} as spec.resources.gpu asks, unsized",
        )

    async def _record_sizing(self, obj: dict[str, Any], outcome: Outcome) -> None:
        """An Event when the sizing outcome changes, so ``kubectl describe`` tells the story."""
        before = get_condition((obj.get("status") or {}).get("conditions"), CONDITION_SIZED) or {}
        if outcome.problem is not None:
            event = ("Warning", outcome.problem.reason, str(outcome.problem))
        elif outcome.sizing is not None:
            event = ("Normal", "Sized", outcome.sizing.reason)
        else:
            return
        uid = obj["metadata"].get("uid", "")
        # The cache may not show our last status write yet; remember what was said per object.
        if before.get("message") == event[2] or self._said.get(uid) == event:
            return
        self._said[uid] = event
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
            or (model.served_name if model else spec.model.rsplit("/")[-1]),
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
        for kind, informer, desired in pairs:
            for item in desired:
                await self._upsert(kind, informer, item)
            keep = {item["metadata"]["name"] for item in desired}
            for stale in informer.store.by_label(MD_LABEL, obj["metadata"]["name"]):
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
        try:
            if current is None:
                await self.client.create(kind, desired)
                return
            if (current["metadata"].get("annotations") or {}).get(HASH_ANNOTATION) == metadata["annotations"][
                HASH_ANNOTATION
            ]:
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
        except KubeAPIError as error:
            if not error.conflict:
                raise
            raise RuntimeError(f"{kind.kind} {metadata['name']} changed meanwhile; retrying") from error

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
            self.informers.statefulsets.store.by_label(MD_LABEL, name)
            if multi_node
            else self.informers.deployments.store.by_label(MD_LABEL, name)
        )
        nodes = {n["metadata"]["name"]: n for n in self.informers.nodes.store.list()}
        pods = mine(self.informers.pods.store.by_label(MD_LABEL, name))
        outcome.observed = observe(pods, nodes, workloads, self.catalog, multi_node)
        if outcome.sizing is None:  # nothing was applied: what runs is what is wanted for now
            outcome.desired = outcome.observed.total_replicas

    async def _write_status(self, obj: dict[str, Any], outcome: Outcome, key: str) -> None:
        now = self.clock.wall()
        generation = obj["metadata"].get("generation")
        observed, desired = outcome.observed, outcome.desired
        serving = self.scraper.serving.get(key)
        name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]

        def mutate(status: dict[str, Any]) -> None:
            conditions: list[dict[str, Any]] = status.setdefault("conditions", [])

            def condition(type_: str, ok: bool, reason: str, message: str) -> None:
                set_condition(conditions, type_, ok, reason, message, generation, now)

            status["observedGeneration"] = generation
            if outcome.problem is not None:
                condition(CONDITION_SIZED, False, outcome.problem.reason, str(outcome.problem))
            elif outcome.sizing is not None:
                status["sizing"] = outcome.sizing.to_wire()
                status["gpu"] = f"{outcome.sizing.gpus_per_replica}x{outcome.sizing.sku}"
                condition(CONDITION_SIZED, True, "Sized", outcome.sizing.reason)
            resources_ok, resources_reason, resources_message = capacity_condition(observed, desired)
            if outcome.problem is not None and observed.total_replicas == 0:
                resources_ok, resources_reason, resources_message = (
                    False,
                    outcome.problem.reason,
                    "no pods created",
                )
            condition(CONDITION_RESOURCES_READY, resources_ok, resources_reason, resources_message)
            inference_ok, inference_reason, inference_message = inference_condition(observed, desired)
            condition(CONDITION_INFERENCE_READY, inference_ok, inference_reason, inference_message)
            converged = (
                outcome.problem is None
                and observed.ready_replicas >= desired
                and observed.updated_replicas >= desired
                and observed.total_replicas <= desired
            )
            if outcome.problem is not None:
                ready = (False, outcome.problem.reason, str(outcome.problem))
            elif desired == 0 and converged:
                ready = (True, "ScaledToZero", "scaled to zero; wakes on demand")
            elif converged:
                ready = (True, "AllReplicasReady", f"{desired} of {desired} replicas ready")
            elif not resources_ok:
                ready = (False, resources_reason, resources_message)
            else:
                reason = inference_reason if observed.ready_replicas == 0 else "Progressing"
                ready = (False, reason, f"{observed.ready_replicas} of {desired} replicas ready")
            condition(CONDITION_READY, *ready)
            status["state"] = (
                "Failed"
                if outcome.problem is not None and observed.ready_replicas == 0
                else (
                    "ScaledToZero" if ready[1] == "ScaledToZero" else ("Ready" if ready[0] else "Progressing")
                )
            )
            if not ready[0] and observed.ready_replicas == 0 and not resources_ok and outcome.problem is None:
                status["state"] = "Pending"
            status["replicas"] = observed.total_replicas
            status["readyReplicas"] = observed.ready_replicas
            status["updatedReplicas"] = observed.updated_replicas
            status["ready"] = f"{observed.ready_replicas}/{desired}"
            status["selector"] = selector_string(name)
            status["endpoint"] = f"http://{name}.{namespace}.svc:80"
            status["replicaStatus"] = [replica.to_wire() for replica in observed.replicas]
            if serving is not None:
                status["serving"] = serving.to_wire()
            if outcome.decision is not None:
                auto = AutoscalingStatus.model_validate(status.get("autoscaling") or {})
                auto.desired_replicas = outcome.decision.replicas
                auto.reason = outcome.decision.reason
                state = self.autoscaler.states.get(key)
                if state is not None and state.last_active_wall is not None:
                    auto.last_active_time = timestamp(state.last_active_wall)
                if outcome.decision.reason not in ("Stable", "ScaledToZero"):
                    auto.last_scale_time = timestamp(now)
                status["autoscaling"] = auto.to_wire()

        await patch_status(self.client, MODEL_DEPLOYMENT, obj, mutate)
