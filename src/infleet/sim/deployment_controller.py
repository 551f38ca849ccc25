"""The simulated Deployment controller: a Deployment owns ReplicaSets, as kube-controller-manager's does.

The ReplicaSet whose template is the Deployment's is the new one (created when missing, with the next
revision); RollingUpdate scales it up within ``maxSurge`` and the old ones down as far as
``maxUnavailable`` allows, counting the sets' available replicas; Recreate scales the old ones to zero,
waits for their pods to be gone, then scales up the new one. A paused Deployment (``spec.paused``) makes
no new ReplicaSet and rolls nothing, but a change of ``replicas`` still applies (shared among the active
sets in proportion, :mod:`infleet.sim.proportional_scaling`). Old sets scaled to zero
beyond ``revisionHistoryLimit`` are deleted. The status is what ``kubectl rollout status`` reads
(observedGeneration, replicas, updated, ready, available, Progressing/Available). The ReplicaSet
controller (:mod:`infleet.sim.replicaset_controller`) makes the pods. minReadySeconds and progress
deadlines are not simulated.
"""

from __future__ import annotations

from typing import Any

from infleet.api.kubernetes import DEPLOYMENT, POD, REPLICASET
from infleet.api.labels import REVISION_ANNOTATION
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import set_condition
from infleet.kube.events import NORMAL, EventRecorder
from infleet.kube.informer import Informer
from infleet.kube.owner_references import controller_of
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status
from infleet.sim.deployment_replicasets import (
    ReplicaSet,
    copied_annotations,
    history_to_delete,
    new_replicaset,
    pod_template_hash,
    replica_annotations,
    replicas_of,
    revision,
    split_new_and_old,
    status_count,
)
from infleet.sim.event_sink import EventSink
from infleet.sim.proportional_scaling import is_scaling_event, proportional_sizes
from infleet.sim.workload_pods import is_terminal, resolve_int_or_percent

PAUSED_REASON = "DeploymentPaused"
OLD_PODS_POLL = 0.5  # Recreate waits for old pods to be gone; their removal wakes no Deployment


class DeploymentController:
    """Reconciles Deployments of one cluster."""

    def __init__(
        self, client: ClusterClient, deployments: Informer, replicasets: Informer, pods: Informer
    ) -> None:
        self.client, self.deployments, self.replicasets, self.pods = client, deployments, replicasets, pods
        self.events = EventSink(EventRecorder(client, "deployment-controller"))

    async def reconcile(self, request: Request) -> Result:
        deployment = self.deployments.store.get(request.name, request.namespace)
        if deployment is None or deployment["metadata"].get("deletionTimestamp"):
            return Result()
        owned = [
            rs
            for rs in self.replicasets.store.owned_by(deployment["metadata"]["uid"])
            if not rs["metadata"].get("deletionTimestamp")
        ]
        new, old = split_new_and_old(deployment, owned)
        spec = deployment.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        strategy = spec.get("strategy") or {}
        recreate = strategy.get("type") == "Recreate"
        surge, unavailable = _surge_and_unavailable(strategy, replicas)
        requeue: float | None = None
        active = [rs for rs in [*old, *([new] if new else [])] if replicas_of(rs) > 0]
        if spec.get("paused") or is_scaling_event(active, replicas):
            # A scale while paused or mid-rollout is applied alone; the rollout goes on next pass.
            new = await self._sync_new(deployment, new, old, None)
            new, old = await self._scale_only(deployment, new, old, replicas + surge)
        elif recreate:
            new, old, waiting = await self._recreate(deployment, new, old, replicas)
            requeue = OLD_PODS_POLL if waiting else None
        else:
            others = sum(replicas_of(rs) for rs in old)
            initial = max(0, min(replicas + surge - others, replicas))
            new = await self._sync_new(deployment, new, old, initial)
            new = await self._reconcile_new(deployment, new, old, replicas, replicas + surge)
            old = await self._reconcile_old(deployment, new, old, replicas - unavailable)
        await self._record_revision(deployment, new)
        await self._delete_pods_owned_directly(deployment)
        await self._clean_up_history(deployment, old)
        await self._write_status(deployment, new, old, replicas, 0 if recreate else unavailable)
        return Result(requeue_after=requeue)

    async def _sync_new(
        self,
        deployment: dict[str, Any],
        new: ReplicaSet | None,
        old: list[ReplicaSet],
        create_with: int | None,
    ) -> ReplicaSet | None:
        """The new ReplicaSet with the Deployment's annotations and the newest revision (one brought back
        by ``rollout undo`` gets a new number); created ``create_with`` strong when missing."""
        next_revision = max((revision(rs) for rs in old), default=0) + 1
        annotations = copied_annotations(deployment)
        if new is not None:
            current = new["metadata"].get("annotations") or {}
            wanted = {**annotations, REVISION_ANNOTATION: str(max(revision(new), next_revision))}
            if all(current.get(k) == v for k, v in wanted.items()):
                return new
            patch = {
                "metadata": {"resourceVersion": new["metadata"]["resourceVersion"], "annotations": wanted}
            }
            return await self.client.patch(
                REPLICASET, new["metadata"]["name"], patch, new["metadata"]["namespace"]
            )
        if create_with is None:
            return None
        spec = deployment.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        surge, _ = _surge_and_unavailable(spec.get("strategy") or {}, replicas)
        annotations[REVISION_ANNOTATION] = str(next_revision)
        annotations.update(replica_annotations(replicas, replicas + surge))
        # A name already taken (a stale cache) answers 409 AlreadyExists: the controller retries quietly.
        created = await self.client.create(REPLICASET, new_replicaset(deployment, create_with, annotations))
        if create_with:
            message = f"Scaled up replica set {created['metadata']['name']} from 0 to {create_with}"
            self.events.emit(deployment, NORMAL, "ScalingReplicaSet", message)
        return created

    async def _scale(
        self, deployment: dict[str, Any], replicaset: ReplicaSet, count: int, max_replicas: int
    ) -> ReplicaSet:
        """Set a ReplicaSet's replicas (and the desired/max annotations) against the version read."""
        replicas = int((deployment.get("spec") or {}).get("replicas", 1))
        annotations = replica_annotations(replicas, max_replicas)
        before = replicas_of(replicaset)
        current = replicaset["metadata"].get("annotations") or {}
        if before == count and all(current.get(k) == v for k, v in annotations.items()):
            return replicaset
        metadata = replicaset["metadata"]
        patch = {
            "metadata": {"resourceVersion": metadata["resourceVersion"], "annotations": annotations},
            "spec": {"replicas": count},
        }
        updated = await self.client.patch(REPLICASET, metadata["name"], patch, metadata["namespace"])
        if before != count:
            direction = "up" if count > before else "down"
            message = f"Scaled {direction} replica set {metadata['name']} from {before} to {count}"
            self.events.emit(deployment, NORMAL, "ScalingReplicaSet", message)
        return updated

    async def _reconcile_new(
        self,
        deployment: dict[str, Any],
        new: ReplicaSet | None,
        old: list[ReplicaSet],
        replicas: int,
        max_total: int,
    ) -> ReplicaSet | None:
        """RollingUpdate: grow the new ReplicaSet while all sets together stay within ``max_total``."""
        if new is None:
            return None
        current = replicas_of(new)
        if current >= replicas:
            return await self._scale(deployment, new, replicas, max_total)
        total = current + sum(replicas_of(rs) for rs in old)
        step = min(max_total - total, replicas - current)
        return await self._scale(deployment, new, current + max(0, step), max_total)

    async def _reconcile_old(
        self,
        deployment: dict[str, Any],
        new: ReplicaSet | None,
        old: list[ReplicaSet],
        min_available: int,
    ) -> list[ReplicaSet]:
        """RollingUpdate: shrink old ReplicaSets, oldest first: their unavailable replicas, then available
        ones while ``min_available`` stay available. Counted on the sets' replicas, so a status not yet
        caught up never lets more go than the spec allows."""
        if not any(replicas_of(rs) for rs in old):
            return old
        new_replicas = replicas_of(new) if new else 0
        new_unavailable = new_replicas - status_count(new, "availableReplicas") if new else 0
        all_replicas = new_replicas + sum(replicas_of(rs) for rs in old)
        budget = all_replicas - min_available - max(0, new_unavailable)
        if budget <= 0:
            return old
        spec = deployment.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        max_total = replicas + _surge_and_unavailable(spec.get("strategy") or {}, replicas)[0]
        result = list(old)
        for index, rs in enumerate(result):  # unhealthy replicas cost no availability
            unhealthy = replicas_of(rs) - status_count(rs, "availableReplicas")
            if budget > 0 and unhealthy > 0:
                step = min(budget, unhealthy)
                result[index] = await self._scale(deployment, rs, replicas_of(rs) - step, max_total)
                budget -= step
        available = sum(status_count(rs, "availableReplicas") for rs in [*result, *([new] if new else [])])
        removable = min(budget, available - min_available)
        for index, rs in enumerate(result):
            if removable <= 0:
                break
            step = min(replicas_of(rs), removable)
            if step > 0:
                result[index] = await self._scale(deployment, rs, replicas_of(rs) - step, max_total)
                removable -= step
        return result

    async def _recreate(
        self, deployment: dict[str, Any], new: ReplicaSet | None, old: list[ReplicaSet], replicas: int
    ) -> tuple[ReplicaSet | None, list[ReplicaSet], bool]:
        """Recreate: old sets to zero, then (their pods gone) the new one to ``replicas``; the flag says
        old pods are still going away."""
        result = [await self._scale(deployment, rs, 0, replicas) for rs in old]
        old_pods = [
            pod
            for rs in result
            for pod in self.pods.store.owned_by(rs["metadata"]["uid"])
            if not is_terminal(pod)
        ]
        if old_pods or any(status_count(rs, "replicas") for rs in result):
            return await self._sync_new(deployment, new, result, None), result, True
        new = await self._sync_new(deployment, new, result, replicas)
        if new is not None:
            new = await self._scale(deployment, new, replicas, replicas)
        return new, result, False

    async def _scale_only(
        self,
        deployment: dict[str, Any],
        new: ReplicaSet | None,
        old: list[ReplicaSet],
        max_total: int,
    ) -> tuple[ReplicaSet | None, list[ReplicaSet]]:
        """No rollout, but a change of ``replicas`` applies: one active set takes the whole count;
        several (caught mid-rollout) share ``max_total`` in proportion to their sizes."""
        replicas = int((deployment.get("spec") or {}).get("replicas", 1))
        every = [*old, *([new] if new else [])]
        active = [rs for rs in every if replicas_of(rs) > 0]
        if len(active) <= 1:
            target = active[0] if active else (new or (max(old, key=revision) if old else None))
            if target is None:
                return new, old
            return _replace(new, old, target, await self._scale(deployment, target, replicas, max_total))
        fallback = int((deployment.get("status") or {}).get("replicas") or 0)
        sizes = proportional_sizes(active, max_total, fallback)
        for rs in active:
            scaled = await self._scale(deployment, rs, sizes[rs["metadata"]["name"]], max_total)
            new, old = _replace(new, old, rs, scaled)
        return new, old

    async def _record_revision(self, deployment: dict[str, Any], new: ReplicaSet | None) -> None:
        """The Deployment carries its new ReplicaSet's revision, as ``kubectl describe`` shows it."""
        if new is None:
            return
        wanted = str(revision(new))
        metadata = deployment["metadata"]
        if (metadata.get("annotations") or {}).get(REVISION_ANNOTATION) == wanted:
            return
        patch = {"metadata": {"annotations": {REVISION_ANNOTATION: wanted}}}
        try:
            await self.client.patch(DEPLOYMENT, metadata["name"], patch, metadata["namespace"])
        except KubeAPIError as error:
            if not error.not_found:
                raise

    async def _delete_pods_owned_directly(self, deployment: dict[str, Any]) -> None:
        """Pods whose controller is the Deployment itself (made before Deployments owned ReplicaSets,
        kept in a cluster's data directory) belong to no ReplicaSet: they go, and the sets replace them."""
        uid = deployment["metadata"]["uid"]
        for pod in self.pods.store.owned_by(uid):
            owner = controller_of(pod)
            if pod["metadata"].get("deletionTimestamp") or owner is None or owner.get("uid") != uid:
                continue
            metadata = pod["metadata"]
            await self.client.delete(POD, metadata["name"], metadata["namespace"], missing_ok=True)

    async def _clean_up_history(self, deployment: dict[str, Any], old: list[ReplicaSet]) -> None:
        limit = int((deployment.get("spec") or {}).get("revisionHistoryLimit", 10))
        for rs in history_to_delete(old, limit):
            metadata = rs["metadata"]
            await self.client.delete(REPLICASET, metadata["name"], metadata["namespace"], missing_ok=True)

    async def _write_status(
        self,
        deployment: dict[str, Any],
        new: ReplicaSet | None,
        old: list[ReplicaSet],
        replicas: int,
        max_unavailable: int,
    ) -> None:
        every = [*old, *([new] if new else [])]
        total = sum(status_count(rs, "replicas") for rs in every)
        updated = status_count(new, "replicas") if new else 0
        ready = sum(status_count(rs, "readyReplicas") for rs in every)
        available = sum(status_count(rs, "availableReplicas") for rs in every)
        generation = deployment["metadata"].get("generation", 1)
        name = new["metadata"]["name"] if new else f"{deployment['metadata']['name']}-{_hash(deployment)}"
        complete = updated == replicas and total == replicas and available >= replicas
        paused = bool((deployment.get("spec") or {}).get("paused"))

        def mutate(status: dict[str, Any]) -> None:
            status["observedGeneration"] = generation
            counts = {
                "replicas": total,
                "updatedReplicas": updated,
                "readyReplicas": ready,
                "availableReplicas": available,
                "unavailableReplicas": max(0, replicas - available),
            }
            for key, value in counts.items():
                if value:
                    status[key] = value
                else:
                    status.pop(key, None)  # the API omits zero counts
            conditions = status.setdefault("conditions", [])
            if available >= replicas - max_unavailable:
                set_condition(
                    conditions,
                    "Available",
                    True,
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                )
            else:
                set_condition(
                    conditions,
                    "Available",
                    False,
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                )
            if paused:
                set_condition(conditions, "Progressing", "Unknown", PAUSED_REASON, "Deployment is paused")
            elif complete:
                message = f'ReplicaSet "{name}" has successfully progressed.'
                set_condition(conditions, "Progressing", True, "NewReplicaSetAvailable", message)
            else:
                message = f'ReplicaSet "{name}" is progressing.'
                set_condition(conditions, "Progressing", True, "ReplicaSetUpdated", message)

        try:
            await patch_status(self.client, DEPLOYMENT, deployment, mutate)
        except KubeAPIError as error:
            if not error.not_found:
                raise


def _replace(
    new: ReplicaSet | None, old: list[ReplicaSet], before: ReplicaSet, after: ReplicaSet
) -> tuple[ReplicaSet | None, list[ReplicaSet]]:
    """``new`` and ``old`` with ``before`` swapped for its updated copy ``after``."""
    if new is before:
        return after, old
    return new, [after if rs is before else rs for rs in old]


def _hash(deployment: dict[str, Any]) -> str:
    return pod_template_hash((deployment.get("spec") or {}).get("template") or {})


def _surge_and_unavailable(strategy: dict[str, Any], replicas: int) -> tuple[int, int]:
    """maxSurge and maxUnavailable of a strategy; Recreate surges none and may take every pod down."""
    rolling = strategy.get("rollingUpdate") or {}
    surge = resolve_int_or_percent(rolling.get("maxSurge"), replicas, True, "25%")
    unavailable = resolve_int_or_percent(rolling.get("maxUnavailable"), replicas, False, "25%")
    if surge == 0 and unavailable == 0:
        unavailable = 1
    if strategy.get("type") == "Recreate":
        return 0, replicas
    return surge, unavailable
