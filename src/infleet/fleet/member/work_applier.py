"""The work applier: a Reconciler of the Works in ``fleet-member-<member>`` on the hub.

For each Work it keeps a finalizer, an AppliedWork in the member, every manifest applied in wave order
(an error on one is reported on it and the others still go out), objects that left the Work deleted, and
``Work.status`` reporting Applied / Available per manifest with ModelDeployment status mirrored back. On
deletion it removes what it applied, then the finalizer; on Leave it only lets go of the Works.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx2

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import member_namespace
from infleet.api.labels import WORK_CLEANUP_FINALIZER
from infleet.api.placement_kubernetes_fleet_io.v1beta1.work import WORK
from infleet.fleet.member.applied_work import AppliedWorks, owner_reference, recorded, stale
from infleet.fleet.member.apply_waves import in_waves
from infleet.fleet.member.availability import availability, back_reported_status
from infleet.fleet.member.manifest_apply import Applied, apply_manifest
from infleet.fleet.member.membership import is_joined
from infleet.fleet.member.work_status import ManifestResult, identity, work_status
from infleet.kube.api_error import KubeAPIError
from infleet.kube.backoff import ExponentialBackoff
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.discovery import Discovery, UnknownKindError, split_api_version
from infleet.kube.finalizers import ensure_finalizer, is_being_deleted, remove_finalizer
from infleet.kube.informer import Informer
from infleet.kube.owner_references import AlreadyOwnedError
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status

log = logging.getLogger(__name__)

#: What applying one manifest may fail with; each is reported on that manifest, not raised.
_APPLY_ERRORS = (KubeAPIError, UnknownKindError, AlreadyOwnedError, ValueError, httpx2.HTTPError, OSError)


@dataclass
class ApplierSettings:
    #: Re-apply this often even when nothing changed (drift in managed fields is overwritten).
    resync_seconds: float = 300.0
    #: Look again this soon while a manifest is applied but not yet available.
    not_available_requeue: float = 5.0
    #: Backoff while some manifest fails to apply, per Work.
    failure_backoff: ExponentialBackoff = field(default_factory=lambda: ExponentialBackoff(1.0, 300.0))


@dataclass(frozen=True)
class ApplierInformers:
    works: Informer  # hub, the member's namespace
    internal_member_clusters: Informer  # hub, the member's namespace
    applied_works: Informer  # member


def identifier(ordinal: int, manifest: dict[str, Any]) -> dict[str, Any]:
    group, version = split_api_version(str(manifest.get("apiVersion") or ""))
    metadata = manifest.get("metadata") or {}
    return {
        "ordinal": ordinal,
        "group": group,
        "version": version,
        "kind": str(manifest.get("kind") or ""),
        "resource": "",
        "namespace": str(metadata.get("namespace") or ""),
        "name": str(metadata.get("name") or ""),
    }


def _message(applied: Applied) -> str:
    return f"{applied.action} in the member cluster"


class WorkApplier:
    """Applies the Works of one member; ``reconcile`` takes Requests naming a Work in the member namespace."""

    def __init__(
        self,
        hub: ClusterClient,
        member: ClusterClient,
        member_name: str,
        informers: ApplierInformers,
        discovery: Discovery,
        clock: Clock,
        settings: ApplierSettings | None = None,
    ) -> None:
        self.hub, self.member, self.member_name = hub, member, member_name
        self.namespace = member_namespace(member_name)
        self.informers = informers
        self.applied_works = AppliedWorks(member, informers.applied_works.store)
        self.discovery = discovery
        self.clock = clock
        self.settings = settings or ApplierSettings()
        self._failures: dict[str, int] = {}

    def request(self, name: str) -> Request:
        return Request(self.hub.name, self.namespace, name)

    async def reconcile(self, request: Request) -> Result:
        work = self.informers.works.store.get(request.name, self.namespace)
        if not is_joined(self.informers.internal_member_clusters.store, self.member_name):
            # Leaving (or not joined yet): let go of the Works, leave placed objects where they are.
            if work is not None:
                await remove_finalizer(self.hub, WORK, work, WORK_CLEANUP_FINALIZER)
            return Result()
        if work is None:
            await self._remove_orphan(request.name)
            return Result()
        if is_being_deleted(work):
            await self._remove(work)
            return Result()
        work = await ensure_finalizer(self.hub, WORK, work, WORK_CLEANUP_FINALIZER)
        results = await self._apply(work)
        generation = work["metadata"].get("generation")
        await self._patch_work_status(work, results, generation)
        return self._next(request.name, results)

    async def _patch_work_status(
        self, work: dict[str, Any], results: list[ManifestResult], generation: Any
    ) -> None:
        await patch_status(self.hub, WORK, work, work_status(results, generation, self.clock.wall()))

    async def _apply(self, work: dict[str, Any]) -> list[ManifestResult]:
        applied_work = await self.applied_works.ensure(work)
        owner = owner_reference(applied_work)
        manifests = list(((work.get("spec") or {}).get("workload") or {}).get("manifests") or [])
        items = [(identifier(i, m), m) for i, m in enumerate(manifests)]
        results: dict[int, tuple[ManifestResult, dict[str, Any] | None]] = {}
        for wave in in_waves(items, key=lambda item: (item[0]["group"], item[0]["kind"])):
            done = await asyncio.gather(*(self._apply_one(ident, m, owner) for ident, m in wave))
            for (ident, _), outcome in zip(wave, done, strict=True):
                results[ident["ordinal"]] = outcome
        ordered = [results[i] for i in sorted(results)]
        await self._prune(applied_work, [ident for ident, _ in items], ordered)
        return [result for result, _ in ordered]

    async def _apply_one(
        self, ident: dict[str, Any], manifest: dict[str, Any], owner: dict[str, Any]
    ) -> tuple[ManifestResult, dict[str, Any] | None]:
        try:
            kind = await self.discovery.resolve(str(manifest.get("apiVersion") or ""), ident["kind"])
            ident["resource"] = kind.plural
            applied = await apply_manifest(self.member, kind, manifest, owner)
        except _APPLY_ERRORS as error:
            return ManifestResult(ident, False, _error_message(error)), None
        metadata = applied.obj.get("metadata") or {}
        ident["namespace"] = str(metadata.get("namespace") or "")
        state = availability(ident["group"], ident["kind"], applied.obj)
        mirrored = back_reported_status(ident["group"], ident["kind"], applied.obj)
        result = ManifestResult(ident, True, _message(applied), state, mirrored)
        return result, {**ident, "uid": metadata.get("uid")}

    async def _prune(
        self,
        applied_work: dict[str, Any],
        manifests: list[dict[str, Any]],
        outcomes: list[tuple[ManifestResult, dict[str, Any] | None]],
    ) -> None:
        """Delete what left the Work; record what is applied (a manifest failing now keeps its record)."""
        previous = recorded(applied_work)
        gone = stale(previous, manifests)
        await self.applied_works.delete_objects(applied_work, gone)
        now = [resource for _, resource in outcomes if resource is not None]
        kept_ids = {identity(r) for r in now}
        gone_ids = {identity(r) for r in gone}
        kept = [r for r in previous if identity(r) not in kept_ids and identity(r) not in gone_ids]
        await self.applied_works.record(applied_work, now + kept)

    async def _remove(self, work: dict[str, Any]) -> None:
        applied_work = self.applied_works.get(work["metadata"]["name"])
        if applied_work is not None:
            await self.applied_works.delete(applied_work)
        await remove_finalizer(self.hub, WORK, work, WORK_CLEANUP_FINALIZER)

    async def _remove_orphan(self, name: str) -> None:
        # The hub listed its Works and this one is not there (deleted while the agent was away): the
        # informer has synced, so absence is the hub's word, not an outage.
        applied_work = self.applied_works.get(name)
        if applied_work is None or (applied_work.get("spec") or {}).get("workNamespace") != self.namespace:
            return
        log.info("member %s: Work %s is gone from the hub; deleting what it applied", self.member_name, name)
        await self.applied_works.delete(applied_work)

    def _next(self, name: str, results: list[ManifestResult]) -> Result:
        if any(not r.applied for r in results):
            failures = self._failures[name] = self._failures.get(name, 0) + 1
            return Result(requeue_after=self.settings.failure_backoff.delay(failures))
        self._failures.pop(name, None)
        if any(r.available is not None and not r.available.available for r in results):
            return Result(requeue_after=self.settings.not_available_requeue)
        return Result(requeue_after=self.settings.resync_seconds)


def _error_message(error: Exception) -> str:
    if isinstance(error, KubeAPIError):
        return error.message or str(error)
    if isinstance(error, httpx2.HTTPError | OSError):
        return f"the member API server did not answer: {error}"
    return str(error)
