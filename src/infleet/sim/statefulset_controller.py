"""The simulated StatefulSet controller: stable names ``<set>-<ordinal>``, ordered start and stop.

OrderedReady (the default) creates pod N only when pods 0..N-1 are Ready and removes the highest
ordinal first; Parallel does not wait. RollingUpdate replaces pods from the highest ordinal down to
``rollingUpdate.partition``, one at a time, each only when all pods are Ready; OnDelete replaces none.
Failed pods are deleted and recreated with the same name. Every template the set had is a
ControllerRevision (:mod:`~infleet.sim.controller_revisions`) whose name labels the pods made from it
and fills ``status.currentRevision`` / ``updateRevision``, so ``kubectl rollout history|undo`` work.
"""

from __future__ import annotations

from typing import Any

from infleet.api.kubernetes import POD, STATEFULSET
from infleet.api.labels import POD_INDEX_LABEL, STATEFULSET_POD_NAME_LABEL
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.informer import Informer
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status
from infleet.sim.controller_revisions import REVISION_HASH_LABEL, RevisionHistory
from infleet.sim.workload_pods import is_ready, is_terminal, pod_from_template

REVISION_LABEL = REVISION_HASH_LABEL  # a StatefulSet's pods carry the revision's name under it


class StatefulSetController:
    def __init__(
        self, client: ClusterClient, statefulsets: Informer, pods: Informer, revisions: Informer
    ) -> None:
        self.client, self.statefulsets, self.pods = client, statefulsets, pods
        self.history = RevisionHistory(client, revisions)

    async def reconcile(self, request: Request) -> Result:
        sts = self.statefulsets.store.get(request.name, request.namespace)
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return Result()
        spec = sts.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        revision, _ = await self.history.current(sts)
        pods = await self._live_pods(sts)
        await self._scale_up(sts, pods, replicas, ordered, revision)
        surplus = sorted((o for o in pods if o >= replicas), reverse=True)
        for ordinal in surplus[:1] if ordered else surplus:
            await self._delete(pods[ordinal])
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") == "RollingUpdate" and not surplus:
            partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
            await self._roll_one(pods, replicas, revision, partition)
        current_revision = await self._write_status(sts, pods, revision, replicas)
        in_use = {revision, current_revision, *(self._revision(p) for p in pods.values())}
        await self.history.prune(sts, in_use)
        return Result()

    async def _live_pods(self, sts: dict[str, Any]) -> dict[int, dict[str, Any]]:
        """The set's pods by ordinal; failed and succeeded ones are deleted here, to be recreated."""
        pods: dict[int, dict[str, Any]] = {}
        for pod in self.pods.store.owned_by(sts["metadata"]["uid"]):
            ordinal = pod["metadata"]["name"].rsplit("-", 1)[-1]
            if ordinal.isdigit() and not pod["metadata"].get("deletionTimestamp"):
                pods[int(ordinal)] = pod
        for ordinal, pod in sorted(pods.items()):
            if is_terminal(pod):
                await self._delete(pod)
                del pods[ordinal]
        return pods

    async def _scale_up(
        self,
        sts: dict[str, Any],
        pods: dict[int, dict[str, Any]],
        replicas: int,
        ordered: bool,
        revision: str,
    ) -> None:
        """Create missing ordinals; OrderedReady stops at the first one created or not yet Ready."""
        for ordinal in range(replicas):
            existing = pods.get(ordinal)
            if existing is None:
                await self._create(sts, ordinal, revision)
                if ordered:
                    break
            elif ordered and not is_ready(existing):
                break

    async def _roll_one(
        self, pods: dict[int, dict[str, Any]], replicas: int, revision: str, partition: int
    ) -> None:
        """RollingUpdate: once every pod is Ready, replace the highest ordinal at or above ``partition``
        still on an old revision."""
        all_ready = len(pods) >= replicas and all(is_ready(pods[o]) for o in range(replicas) if o in pods)
        if not all_ready:
            return
        stale = [
            o for o in sorted(pods, reverse=True) if o >= partition and self._revision(pods[o]) != revision
        ]
        if stale:
            await self._delete(pods[stale[0]])

    @staticmethod
    def _revision(pod: dict[str, Any]) -> str:
        return str((pod["metadata"].get("labels") or {}).get(REVISION_LABEL, ""))

    async def _create(self, sts: dict[str, Any], ordinal: int, revision: str) -> None:
        name = f"{sts['metadata']['name']}-{ordinal}"
        labels = {
            REVISION_LABEL: revision,
            STATEFULSET_POD_NAME_LABEL: name,
            POD_INDEX_LABEL: str(ordinal),
        }
        body = pod_from_template(sts, (sts.get("spec") or {}).get("template") or {}, labels, name=name)
        body["spec"]["hostname"] = name
        if (sts.get("spec") or {}).get("serviceName"):
            body["spec"]["subdomain"] = sts["spec"]["serviceName"]
        try:
            await self.client.create(POD, body)
        except KubeAPIError as error:
            if not error.conflict:
                raise

    async def _delete(self, pod: dict[str, Any]) -> None:
        await self.client.delete(POD, pod["metadata"]["name"], pod["metadata"]["namespace"], missing_ok=True)

    async def _write_status(
        self, sts: dict[str, Any], pods: dict[int, dict[str, Any]], revision: str, replicas: int
    ) -> str:
        """Write the status; returns the current revision (the one pods had before the update)."""
        current = [p for p in pods.values() if not is_terminal(p)]
        updated = sum(1 for p in current if self._revision(p) == revision)
        ready = sum(1 for p in current if is_ready(p))
        # The current revision is the one every pod had before the update; it catches up when all moved.
        done = updated == replicas and len(current) == replicas
        previous = str((sts.get("status") or {}).get("currentRevision") or revision)
        current_revision = revision if done else previous

        def mutate(status: dict[str, Any]) -> None:
            status["observedGeneration"] = sts["metadata"].get("generation", 1)
            status["replicas"] = len(current)
            status["readyReplicas"] = ready
            status["availableReplicas"] = ready
            status["currentReplicas"] = sum(1 for p in current if self._revision(p) == current_revision)
            status["updatedReplicas"] = updated
            status["updateRevision"] = revision
            status["currentRevision"] = current_revision
            status["collisionCount"] = 0

        try:
            await patch_status(self.client, STATEFULSET, sts, mutate)
        except KubeAPIError as error:
            if not error.not_found:
                raise
        return current_revision
