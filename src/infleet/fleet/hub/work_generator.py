"""The work generator: a Bound binding becomes a Work in its cluster's hub namespace holding the
manifests of the binding's resource snapshot; the Work's status (written by the member agent) flows
back into the binding's conditions (WorkSynchronized, Applied, Available) and failed placements. A
deleted binding takes its Work with it (the member agent then removes what it applied).
"""

from __future__ import annotations

from typing import Any

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import member_namespace
from infleet.api.labels import (
    PARENT_BINDING_LABEL,
    PARENT_PLACEMENT_LABEL,
    RESOURCE_HASH_ANNOTATION,
    WORK_CLEANUP_FINALIZER,
)
from infleet.api.placement_kubernetes_fleet_io.v1beta1.work import WORK, WORK_APPLIED, WORK_AVAILABLE
from infleet.fleet.hub.placement_kinds import PlacementKinds
from infleet.fleet.hub.snapshots import content_hash
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import get_condition, set_condition
from infleet.kube.finalizers import ensure_finalizer, is_being_deleted, remove_finalizer
from infleet.kube.informer import Informer
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status

#: The binding finalizer: its Work is deleted before the binding goes.
BINDING_FINALIZER = WORK_CLEANUP_FINALIZER


class WorkGenerator:
    """Reconciles bindings of one placement scope into Works."""

    def __init__(
        self,
        client: ClusterClient,
        kinds: PlacementKinds,
        bindings: Informer,
        resource_snapshots: Informer,
        works: Informer,
        clock: Clock,
    ) -> None:
        self._client = client
        self._kinds = kinds
        self._bindings = bindings
        self._snapshots = resource_snapshots
        self._works = works
        self._clock = clock

    async def reconcile(self, request: Request) -> Result:
        binding = self._bindings.store.get(request.name, request.namespace or None)
        if binding is None:
            return Result()
        if is_being_deleted(binding):
            await self._delete_work(binding)
            await remove_finalizer(self._client, self._kinds.binding, binding, BINDING_FINALIZER)
            return Result()
        binding = await ensure_finalizer(self._client, self._kinds.binding, binding, BINDING_FINALIZER)
        spec = binding.get("spec") or {}
        if spec.get("state") == "Scheduled" or not spec.get("resourceSnapshotName"):
            # Nothing to generate yet. A binding the rollout holds back says so itself (the rollout
            # controller writes RolloutStarted False); one it binds at once needs no status write here.
            return Result()
        snapshot = self._snapshots.store.get(spec["resourceSnapshotName"], request.namespace or None)
        if snapshot is None:
            return Result(requeue_after=1.0)  # written before the binding points at it; the cache lags
        work = await self._sync_work(binding, snapshot)
        await self._write_conditions(binding, work, synchronized=True)
        return Result()

    def _work_key(self, binding: dict[str, Any]) -> tuple[str, str]:
        """(member namespace, Work name) of a binding."""
        metadata = binding["metadata"]
        placement = (metadata.get("labels") or {}).get(PARENT_PLACEMENT_LABEL, "")
        work_name = self._kinds.work_name(metadata.get("namespace") or "", placement)
        return member_namespace(binding["spec"]["targetCluster"]), work_name

    async def _sync_work(self, binding: dict[str, Any], snapshot: dict[str, Any]) -> dict[str, Any]:
        namespace, name = self._work_key(binding)
        manifests = (snapshot.get("spec") or {}).get("selectedResources") or []
        apply_strategy = (binding.get("spec") or {}).get("applyStrategy")
        spec: dict[str, Any] = {"workload": {"manifests": manifests}}
        if apply_strategy:
            spec["applyStrategy"] = apply_strategy
        digest = content_hash(spec)
        labels = {
            **{k: v for k, v in (binding["metadata"].get("labels") or {}).items()},
            PARENT_BINDING_LABEL: binding["metadata"]["name"],
        }
        current = self._works.store.get(name, namespace)
        if (
            current is not None
            and (current["metadata"].get("annotations") or {}).get(RESOURCE_HASH_ANNOTATION) == digest
        ):
            return current
        body: dict[str, Any] = {
            "apiVersion": WORK.api_version,
            "kind": WORK.kind,
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": labels,
                "annotations": {RESOURCE_HASH_ANNOTATION: digest},
            },
            "spec": spec,
        }
        if current is None:
            try:
                return await self._client.create(WORK, body, namespace)
            except KubeAPIError as error:
                if not error.conflict:
                    raise
                current = await self._client.get(WORK, name, namespace)
        body["metadata"] = {**current["metadata"], **body["metadata"]}
        return await self._client.replace(WORK, {**current, **body, "status": current.get("status") or {}})

    async def _delete_work(self, binding: dict[str, Any]) -> None:
        namespace, name = self._work_key(binding)
        await self._client.delete(WORK, name, namespace, missing_ok=True)

    async def _write_conditions(
        self, binding: dict[str, Any], work: dict[str, Any] | None, synchronized: bool
    ) -> None:
        generation = binding["metadata"].get("generation")
        now = self._clock.wall()
        facts = _conditions_from_work(work) if work is not None else {}

        def mutate(status: dict[str, Any]) -> None:
            conditions = status.setdefault("conditions", [])
            set_condition(conditions, "RolloutStarted", True, "RolloutStarted", "", generation, now)
            set_condition(conditions, "Overridden", True, "NoOverrideSpecified", "", generation, now)
            set_condition(
                conditions,
                "WorkSynchronized",
                synchronized,
                "WorkSynchronized" if synchronized else "WorkNotSynchronizedYet",
                "",
                generation,
                now,
            )
            for kind, (value, reason, message) in facts.items():
                set_condition(conditions, kind, value, reason, message, generation, now)
            failed = _failed_placements(work) if work is not None else []
            if failed:
                status["failedPlacements"] = failed
            else:
                status.pop("failedPlacements", None)

        await patch_status(self._client, self._kinds.binding, binding, mutate)


def _conditions_from_work(work: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    """Applied and Available as the member agent reported them for this generation of the Work."""
    generation = work["metadata"].get("generation")
    conditions = (work.get("status") or {}).get("conditions")
    facts: dict[str, tuple[str, str, str]] = {}
    for kind, pending in ((WORK_APPLIED, "ApplyPending"), (WORK_AVAILABLE, "ResourceNotAvailableYet")):
        condition = get_condition(conditions, kind)
        if condition is None or condition.get("observedGeneration") not in (None, generation):
            facts[kind] = ("Unknown", pending, "the member agent has not reported this version yet")
        else:
            facts[kind] = (condition["status"], condition.get("reason") or kind, condition.get("message", ""))
    return facts


def _failed_placements(work: dict[str, Any]) -> list[dict[str, Any]]:
    failed = []
    for manifest in (work.get("status") or {}).get("manifestConditions") or []:
        for kind in (WORK_APPLIED, WORK_AVAILABLE):
            condition = get_condition(manifest.get("conditions"), kind)
            if condition is not None and condition.get("status") == "False":
                identifier = {
                    k: v
                    for k, v in manifest["identifier"].items()
                    if k in ("group", "version", "kind", "name", "namespace") and v
                }
                failed.append({**identifier, "condition": {k: str(v) for k, v in condition.items()}})
                break
    return failed[:100]
