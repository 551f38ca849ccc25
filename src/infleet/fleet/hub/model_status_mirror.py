"""Status back-reporting: each hub ModelDeployment shows, per member cluster, what that member's agent
reported in the Work that carries it (KubeFleet declares reportBackStrategy but never wired it).

:class:`WorkIndex` follows the Works in every ``fleet-member-*`` namespace and remembers which hub
ModelDeployments each one carries, so a Work change requeues exactly those; the reconciler rebuilds
``status.clusters`` from the Works that hold the deployment now (a cluster whose Work lost it drops out)
and patches the status subresource only when it changed. Wired by ``membership_controllers``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT, ClusterServing
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import MEMBER_NAMESPACE_PREFIX
from infleet.fleet.hub.cluster_serving import cluster_serving, keep_observed_times, write_hub_status
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import timestamp
from infleet.kube.informer import DELETED, Informer, InformerEvent
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status
from infleet.kube.store import object_key

#: (namespace, name) of a hub ModelDeployment.
ModelKey = tuple[str, str]


def _is_model_deployment(manifest: dict[str, Any]) -> bool:
    return (
        manifest.get("kind") == MODEL_DEPLOYMENT.kind
        and manifest.get("apiVersion", "").partition("/")[0] == MODEL_DEPLOYMENT.group
    )


def carried_models(work: dict[str, Any] | None) -> set[ModelKey]:
    """The ModelDeployments a Work in a member namespace carries (none for Works elsewhere, and none for a
    Work being deleted: its cluster is losing the deployment, e.g. after a failover, even while an
    unreachable member keeps the Work's finalizer)."""
    if work is None or not str(work["metadata"].get("namespace", "")).startswith(MEMBER_NAMESPACE_PREFIX):
        return set()
    if work["metadata"].get("deletionTimestamp"):
        return set()
    manifests = ((work.get("spec") or {}).get("workload") or {}).get("manifests") or []
    return {
        (str(m["metadata"].get("namespace") or "default"), str(m["metadata"]["name"]))
        for m in manifests
        if _is_model_deployment(m) and (m.get("metadata") or {}).get("name")
    }


def reported_status(work: dict[str, Any], key: ModelKey) -> dict[str, Any] | None:
    """The backReportedStatus of ``key`` among the Work's manifest conditions, if the agent wrote one."""
    namespace, name = key
    for condition in (work.get("status") or {}).get("manifestConditions") or []:
        identifier = condition.get("identifier") or {}
        if (
            identifier.get("kind") == MODEL_DEPLOYMENT.kind
            and identifier.get("name") == name
            and (identifier.get("namespace") or "default") == namespace
        ):
            status = condition.get("backReportedStatus")
            return status if isinstance(status, dict) else None
    return None


class WorkIndex:
    """Which Works carry which hub ModelDeployment, kept current from the Work informer's events."""

    def __init__(self, hub: str) -> None:
        self.hub = hub
        self._works: dict[ModelKey, set[str]] = {}
        self._models: dict[str, set[ModelKey]] = {}

    def works_of(self, key: ModelKey) -> set[str]:
        return set(self._works.get(key, ()))

    def requests(self, event: InformerEvent) -> Iterable[Request]:
        """Update the index with ``event`` and name the ModelDeployments whose status it may change."""
        work_key = object_key(event.obj)
        now = set() if event.type == DELETED else carried_models(event.obj)
        before = self._models.pop(work_key, set()) | carried_models(event.old)
        if now:
            self._models[work_key] = now
        for key in before - now:
            self._works.get(key, set()).discard(work_key)
            if not self._works.get(key):
                self._works.pop(key, None)
        for key in now:
            self._works.setdefault(key, set()).add(work_key)
        return [Request(self.hub, namespace, name) for namespace, name in sorted(before | now)]


class ModelStatusMirror:
    """Reconciles one hub ModelDeployment's status from the Works that carry it."""

    def __init__(
        self, client: ClusterClient, models: Informer, works: Informer, index: WorkIndex, clock: Clock
    ) -> None:
        self.client = client
        self.models = models
        self.works = works
        self.index = index
        self.clock = clock

    def entries(self, key: ModelKey) -> list[ClusterServing]:
        """One entry per member cluster whose Work holds the deployment, by cluster name."""
        by_cluster: dict[str, ClusterServing] = {}
        for work_key in sorted(self.index.works_of(key)):
            work = self.works.store.get_by_key(work_key)
            if work is None or key not in carried_models(work):
                continue
            cluster = str(work["metadata"]["namespace"])[len(MEMBER_NAMESPACE_PREFIX) :]
            entry = cluster_serving(cluster, reported_status(work, key))
            # Two placements carrying one deployment to one cluster: a report beats none.
            if cluster not in by_cluster or (
                entry.state != "Pending" and by_cluster[cluster].state == "Pending"
            ):
                by_cluster[cluster] = entry
        return [by_cluster[cluster] for cluster in sorted(by_cluster)]

    async def reconcile(self, request: Request) -> Result:
        obj = self.models.store.get(request.name, request.namespace)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return Result()
        entries = self.entries((request.namespace, request.name))
        previous = (obj.get("status") or {}).get("clusters")
        if not entries and previous is None:
            return Result()  # never placed: not ours to describe (a member's own controller may be)
        now = self.clock.wall()
        keep_observed_times(entries, previous, timestamp(now))
        generation = obj["metadata"].get("generation")
        await patch_status(
            self.client,
            MODEL_DEPLOYMENT,
            obj,
            lambda status: write_hub_status(status, entries, generation, now),
        )
        return Result()
