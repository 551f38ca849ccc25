"""The simulated ReplicaSet controller: ``spec.replicas`` pods made from the template, owned by the set.

Missing pods are created in batches of 1, 2, 4, ... (slow start); surplus ones are deleted unscheduled,
unready and newest first; failed and succeeded pods are deleted and so replaced. Deletion is graceful
(the kubelet finishes it): a pod with a ``deletionTimestamp`` no longer counts. The status carries
replicas, fullyLabeledReplicas, readyReplicas, availableReplicas (minReadySeconds is not simulated, so
ready means available) and observedGeneration.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from infleet.api.kubernetes import POD, REPLICASET
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.events import NORMAL, EventRecorder
from infleet.kube.informer import Informer
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status
from infleet.sim.event_sink import EventSink
from infleet.sim.pod_expectations import PodExpectations
from infleet.sim.workload_pods import is_ready, is_terminal, pod_from_template


class ReplicaSetController:
    """Reconciles ReplicaSets of one cluster."""

    def __init__(self, client: ClusterClient, replicasets: Informer, pods: Informer) -> None:
        self.client, self.replicasets, self.pods = client, replicasets, pods
        self.events = EventSink(EventRecorder(client, "replicaset-controller"))
        self.expectations = PodExpectations(pods)

    async def reconcile(self, request: Request) -> Result:
        replicaset = self.replicasets.store.get(request.name, request.namespace)
        if replicaset is None:
            self.expectations.forget(request.key)
            return Result()
        if replicaset["metadata"].get("deletionTimestamp"):
            return Result()
        if self.expectations.waiting(request.key, request.namespace):
            return Result(requeue_after=0.5)
        created: set[str] = set()
        deleted: set[str] = set()
        active = await self._active_pods(replicaset, deleted)
        replicas = int((replicaset.get("spec") or {}).get("replicas", 1))
        if len(active) < replicas:
            await self._create(replicaset, replicas - len(active), created)
        elif len(active) > replicas:
            for pod in surplus_first(active)[: len(active) - replicas]:
                await self._delete(replicaset, pod, deleted)
        self.expectations.expect(request.key, created, deleted)
        remaining = [p for p in active if p["metadata"]["name"] not in deleted]
        await self._write_status(replicaset, remaining, len(created))
        return Result()

    async def _active_pods(self, replicaset: dict[str, Any], deleted: set[str]) -> list[dict[str, Any]]:
        """The set's pods that are not going away; failed and succeeded ones are deleted here."""
        owned = [
            p
            for p in self.pods.store.owned_by(replicaset["metadata"]["uid"])
            if not p["metadata"].get("deletionTimestamp")
        ]
        for pod in owned:
            if is_terminal(pod):
                await self._delete(replicaset, pod, deleted)
        return [p for p in owned if not is_terminal(p)]

    async def _create(self, replicaset: dict[str, Any], count: int, created: set[str]) -> None:
        """Create ``count`` pods in batches of 1, 2, 4, ... (kube's slow start): a failing create costs
        one request, not ``count``; a healthy API gets concurrent writes."""
        template = (replicaset.get("spec") or {}).get("template") or {}
        body = pod_from_template(replicaset, template, {}, generate_name=f"{replicaset['metadata']['name']}-")
        batch = 1
        while count > 0:
            size = min(batch, count)
            pods = await asyncio.gather(*(self.client.create(POD, body) for _ in range(size)))
            for pod in pods:
                created.add(pod["metadata"]["name"])
                self.events.emit(
                    replicaset, NORMAL, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}"
                )
            count -= size
            batch *= 2

    async def _delete(self, replicaset: dict[str, Any], pod: dict[str, Any], deleted: set[str]) -> None:
        name = pod["metadata"]["name"]
        if name in deleted:
            return
        try:
            await self.client.delete(POD, name, pod["metadata"]["namespace"])
        except KubeAPIError as error:
            if not error.not_found:
                raise
        deleted.add(name)
        self.events.emit(replicaset, NORMAL, "SuccessfulDelete", f"Deleted pod: {name}")

    async def _write_status(
        self, replicaset: dict[str, Any], remaining: list[dict[str, Any]], created: int
    ) -> None:
        template_labels = (((replicaset.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
            "labels"
        ) or {}
        labelled = sum(
            1
            for p in remaining
            if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in template_labels.items())
        )
        ready = sum(1 for p in remaining if is_ready(p))
        counts = {
            "replicas": len(remaining) + created,
            "fullyLabeledReplicas": labelled + created,
            "readyReplicas": ready,
            "availableReplicas": ready,
        }

        def mutate(status: dict[str, Any]) -> None:
            status["observedGeneration"] = replicaset["metadata"].get("generation", 1)
            for key, value in counts.items():
                if value or key == "replicas":  # the API omits zero counts but replicas
                    status[key] = value
                else:
                    status.pop(key, None)

        try:
            await patch_status(self.client, REPLICASET, replicaset, mutate)
        except KubeAPIError as error:
            if not error.not_found:
                raise


def surplus_first(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``pods`` in the order a scale-down removes them: unscheduled before scheduled, unready before
    ready, newest first (the ones that cost least to lose)."""
    return sorted(pods, key=_deletion_rank)


def _deletion_rank(pod: dict[str, Any]) -> tuple[bool, bool, float]:
    created = str(pod["metadata"].get("creationTimestamp", ""))
    newest_first = -_timestamp(created)
    return (bool((pod.get("spec") or {}).get("nodeName")), is_ready(pod), newest_first)


def _timestamp(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
