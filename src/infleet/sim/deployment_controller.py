"""The simulated Deployment controller: rolling updates (maxSurge/maxUnavailable) or Recreate, failed pods
replaced, and the status ``kubectl rollout status`` reads (observedGeneration, replicas, updated, ready,
available, Progressing/Available). No ReplicaSets: the Deployment owns its pods, told apart by
``pod-template-hash``; minReadySeconds and progress deadlines are not simulated.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from infleet.api.kubernetes import DEPLOYMENT, POD
from infleet.api.labels import POD_TEMPLATE_HASH_LABEL
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import set_condition
from infleet.kube.events import NORMAL, EventRecorder
from infleet.kube.informer import Informer
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status
from infleet.sim.event_sink import EventSink
from infleet.sim.workload_pods import (
    is_ready,
    is_terminal,
    pod_from_template,
    resolve_int_or_percent,
    template_hash,
)

EXPECTATION_TIMEOUT = 30.0


class DeploymentController:
    """Reconciles Deployments of one cluster."""

    def __init__(self, client: ClusterClient, deployments: Informer, pods: Informer) -> None:
        self.client, self.deployments, self.pods = client, deployments, pods
        self.events = EventSink(EventRecorder(client, "deployment-controller"))
        # Pods created or deleted but not yet seen so in the cache: act again only once they are.
        self._expect: dict[str, tuple[set[str], set[str], float]] = {}

    def _waiting_for_cache(self, key: str) -> bool:
        created, deleted, deadline = self._expect.get(key, (set(), set(), 0.0))
        namespace = key.split("/", 1)[0]
        created = {n for n in created if self.pods.store.get(n, namespace) is None}
        deleted = {n for n in deleted if self.pods.store.get(n, namespace) is not None}
        if (created or deleted) and time.monotonic() < deadline:
            self._expect[key] = (created, deleted, deadline)
            return True
        self._expect.pop(key, None)
        return False

    async def reconcile(self, request: Request) -> Result:
        deployment = self.deployments.store.get(request.name, request.namespace)
        if deployment is None:
            self._expect.pop(request.key, None)
            return Result()
        if deployment["metadata"].get("deletionTimestamp"):
            return Result()
        if self._waiting_for_cache(request.key):
            return Result(requeue_after=0.5)
        await self._roll_out(request, deployment)
        return Result()

    async def _roll_out(self, request: Request, deployment: dict[str, Any]) -> None:
        """One pass: replace failed pods, create new ones within the surge, remove old ones as far as
        availability allows, and write the status."""
        spec = deployment.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        pod_hash = template_hash(template)
        created: set[str] = set()
        deleted: set[str] = set()
        alive = await self._live_pods(deployment, deleted)
        new = [
            p for p in alive if (p["metadata"].get("labels") or {}).get(POD_TEMPLATE_HASH_LABEL) == pod_hash
        ]
        old = [p for p in alive if p not in new]
        strategy = spec.get("strategy") or {}
        surge, unavailable = _surge_and_unavailable(strategy, replicas)
        if strategy.get("type") == "Recreate":
            new_to_create = await self._recreate(old, new, replicas, deleted)
        else:
            new_to_create = min(replicas - len(new), replicas + surge - len(alive))
        body = pod_from_template(
            deployment,
            template,
            {POD_TEMPLATE_HASH_LABEL: pod_hash},
            generate_name=f"{request.name}-{pod_hash}-",
        )
        await self._create(body, max(0, new_to_create), created)
        if created:
            message = f"Scaled up replica set {request.name}-{pod_hash} to {len(new) + len(created)}"
            self.events.emit(deployment, NORMAL, "ScalingReplicaSet", message)
        await self._scale_down(new, replicas, deleted)
        min_available = replicas - unavailable
        await self._retire_old(old, alive, min_available, deleted)
        if deleted:
            message = f"Scaled down pods of {request.name}: {len(deleted)} removed"
            self.events.emit(deployment, NORMAL, "ScalingReplicaSet", message)
        if created or deleted:
            self._expect[request.key] = (created, deleted, time.monotonic() + EXPECTATION_TIMEOUT)
        await self._write_status(deployment, alive, created, deleted, pod_hash, replicas, min_available)

    async def _live_pods(self, deployment: dict[str, Any], deleted: set[str]) -> list[dict[str, Any]]:
        """The Deployment's pods that are not going away; failed and succeeded ones are deleted here."""
        owned = [
            p
            for p in self.pods.store.owned_by(deployment["metadata"]["uid"])
            if not p["metadata"].get("deletionTimestamp")
        ]
        for pod in owned:
            if is_terminal(pod):
                await self._delete(pod, deleted)
        return [p for p in owned if not is_terminal(p)]

    async def _recreate(
        self, old: list[dict[str, Any]], new: list[dict[str, Any]], replicas: int, deleted: set[str]
    ) -> int:
        """Recreate: every old pod goes before the first new one is created; returns how many to create."""
        if old:
            for pod in old:
                await self._delete(pod, deleted)
            return 0
        return replicas - len(new)

    async def _scale_down(self, new: list[dict[str, Any]], replicas: int, deleted: set[str]) -> None:
        """Scaled down: new pods over ``replicas`` go, unready and newest first."""
        if len(new) > replicas:
            surplus = sorted(new, key=lambda p: (is_ready(p), p["metadata"].get("creationTimestamp", "")))
            for pod in surplus[: len(new) - replicas]:
                await self._delete(pod, deleted)

    async def _retire_old(
        self, old: list[dict[str, Any]], alive: list[dict[str, Any]], min_available: int, deleted: set[str]
    ) -> None:
        """Remove old pods: all unready ones, and ready ones while ``min_available`` stay ready."""
        ready_count = sum(1 for p in alive if is_ready(p) and p["metadata"]["name"] not in deleted)
        for pod in [p for p in old if not is_ready(p)]:
            await self._delete(pod, deleted)  # unready old pods cost no availability
        removable = ready_count - min_available
        for pod in sorted([p for p in old if is_ready(p)], key=lambda p: p["metadata"]["name"]):
            if removable <= 0:
                break
            if pod["metadata"]["name"] not in deleted:
                await self._delete(pod, deleted)
                removable -= 1

    async def _create(self, body: dict[str, Any], count: int, created: set[str]) -> None:
        """Create ``count`` pods in batches of 1, 2, 4, ... (the ReplicaSet controller's slow start): a
        failing create costs one request, not ``count``; a healthy API gets concurrent writes."""
        batch = 1
        while count > 0:
            size = min(batch, count)
            pods = await asyncio.gather(*(self.client.create(POD, body) for _ in range(size)))
            created.update(pod["metadata"]["name"] for pod in pods)
            count -= size
            batch *= 2

    async def _delete(self, pod: dict[str, Any], deleted: set[str]) -> None:
        name = pod["metadata"]["name"]
        if name in deleted:
            return
        try:
            await self.client.delete(POD, name, pod["metadata"]["namespace"])
        except KubeAPIError as error:
            if not error.not_found:
                raise
        deleted.add(name)

    async def _write_status(
        self,
        deployment: dict[str, Any],
        alive: list[dict[str, Any]],
        created: set[str],
        deleted: set[str],
        pod_hash: str,
        replicas: int,
        min_available: int,
    ) -> None:
        remaining = [p for p in alive if p["metadata"]["name"] not in deleted]
        updated = sum(
            1
            for p in remaining
            if (p["metadata"].get("labels") or {}).get(POD_TEMPLATE_HASH_LABEL) == pod_hash
        )
        updated += len(created)
        total = len(remaining) + len(created)
        ready = sum(1 for p in remaining if is_ready(p))
        name = f"{deployment['metadata']['name']}-{pod_hash}"
        complete = updated == replicas and total == replicas and ready >= replicas

        def mutate(status: dict[str, Any]) -> None:
            status["observedGeneration"] = deployment["metadata"].get("generation", 1)
            status["replicas"] = total
            status["updatedReplicas"] = updated
            status["readyReplicas"] = ready
            status["availableReplicas"] = ready
            status["unavailableReplicas"] = max(0, replicas - ready)
            for key in (
                "readyReplicas",
                "availableReplicas",
                "unavailableReplicas",
                "updatedReplicas",
                "replicas",
            ):
                if status[key] == 0:
                    del status[key]  # the API omits zero counts
            conditions = status.setdefault("conditions", [])
            if ready >= min_available:
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
            if complete:
                set_condition(
                    conditions,
                    "Progressing",
                    True,
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{name}" has successfully progressed.',
                )
            else:
                set_condition(
                    conditions,
                    "Progressing",
                    True,
                    "ReplicaSetUpdated",
                    f'ReplicaSet "{name}" is progressing.',
                )

        try:
            await patch_status(self.client, DEPLOYMENT, deployment, mutate)
        except KubeAPIError as error:
            if not error.not_found:
                raise


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
