"""Deletion: finalizers, propagation policies and the garbage collector of one cluster.

``delete_object`` implements DELETE (preconditions, Background / Foreground / Orphan, graceful
deletion while finalizers remain). :class:`GarbageCollector` runs in the background and finishes
what deletions start: it deletes dependents whose owners are gone, drives the ``foregroundDeletion``
and ``orphan`` finalizers, empties terminating Namespaces and cleans up the objects of deleted CRDs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infleet.apiserver import pod_termination
from infleet.apiserver.errors import StatusError, bad_request, conflict
from infleet.apiserver.storage import Change
from infleet.apiserver.write_rules import WriteOptions, deep_copy

if TYPE_CHECKING:
    from infleet.apiserver.cluster import Cluster
    from infleet.apiserver.resources import ResourceType

log = logging.getLogger(__name__)

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
CRD_CLEANUP = "customresourcecleanup.apiextensions.k8s.io"
NAMESPACE_FINALIZER = "kubernetes"
POLICIES = ("Background", "Foreground", "Orphan")

ObjectRef = tuple[str, str, str]  # (storage key, namespace, name)


@dataclass(frozen=True)
class DeleteOptions:
    propagation_policy: str | None = None
    precondition_uid: str | None = None
    precondition_resource_version: str | None = None
    dry_run: bool = False
    grace_period_seconds: int | None = None

    @classmethod
    def parse(cls, body: Mapping[str, Any] | None, query: Mapping[str, str]) -> DeleteOptions:
        """Read DeleteOptions from the request body and/or query parameters."""
        data = dict(body or {})
        policy = data.get("propagationPolicy") or query.get("propagationPolicy")
        orphan = data.get("orphanDependents", query.get("orphanDependents"))
        if policy is None and orphan is not None:
            policy = "Orphan" if str(orphan).lower() == "true" else "Background"
        if policy is not None and policy not in POLICIES:
            raise bad_request(
                f"DeleteOptions.propagationPolicy: unsupported value {policy!r}: "
                "use Background, Foreground or Orphan"
            )
        preconditions = data.get("preconditions") or {}
        if not isinstance(preconditions, Mapping):
            raise bad_request("DeleteOptions.preconditions must be an object with uid and/or resourceVersion")
        dry_run = data.get("dryRun") or query.get("dryRun")
        grace = data.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
        return cls(
            propagation_policy=policy,
            precondition_uid=preconditions.get("uid"),
            precondition_resource_version=preconditions.get("resourceVersion"),
            dry_run=bool(dry_run),
            grace_period_seconds=_grace_period(grace),
        )


def _grace_period(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(
            f"DeleteOptions.gracePeriodSeconds: {value!r} is not a whole number of seconds"
        ) from None


async def delete_object(
    cluster: Cluster, resource: ResourceType, current: dict[str, Any], options: DeleteOptions
) -> tuple[dict[str, Any], bool]:
    """Delete now, or mark the object deleting while finalizers remain or (pods) while its containers
    stop; returns (object, finished)."""
    metadata = current["metadata"]
    name = metadata["name"]
    _check_preconditions(resource, metadata, options)
    grace = pod_termination.grace_period(current, options.grace_period_seconds) if _is_pod(resource) else 0
    if metadata.get("deletionTimestamp"):
        if grace < (metadata.get("deletionGracePeriodSeconds") or 0) and not options.dry_run:
            return await _shorten_grace(cluster, resource, current, grace)
        return current, False
    finalizers = list(metadata.get("finalizers") or [])
    if options.propagation_policy == "Foreground" and FOREGROUND not in finalizers:
        finalizers.append(FOREGROUND)
    if options.propagation_policy == "Orphan" and ORPHAN not in finalizers:
        finalizers.append(ORPHAN)
    is_namespace = resource.storage_key == "namespaces"
    if options.dry_run:
        return current, not finalizers and not is_namespace and not grace
    if not finalizers and not is_namespace and not grace:
        await cluster.remove(resource, current)
        return current, True
    obj = deep_copy(current)
    obj["metadata"]["finalizers"] = finalizers
    if not finalizers:
        obj["metadata"].pop("finalizers")
    obj["metadata"]["deletionTimestamp"] = cluster.now(after_seconds=grace)
    obj["metadata"]["deletionGracePeriodSeconds"] = grace
    obj["metadata"]["generation"] = int(metadata.get("generation", 1)) + 1
    if is_namespace:
        obj.setdefault("status", {})["phase"] = "Terminating"
    stored = await cluster.commit(resource, obj)
    cluster.collector.enqueue((resource.storage_key, metadata.get("namespace", ""), name))
    return stored, False


def _check_preconditions(resource: ResourceType, metadata: Mapping[str, Any], options: DeleteOptions) -> None:
    name = metadata["name"]
    if options.precondition_uid and options.precondition_uid != metadata.get("uid"):
        raise conflict(
            resource.plural, name, resource.group, "Precondition failed: UID in precondition does not match"
        )
    expected_version = options.precondition_resource_version
    if expected_version and expected_version != metadata.get("resourceVersion"):
        raise conflict(
            resource.plural,
            name,
            resource.group,
            "Precondition failed: resourceVersion in precondition does not match",
        )


def _is_pod(resource: ResourceType) -> bool:
    return resource.storage_key == "pods"


async def _shorten_grace(
    cluster: Cluster, resource: ResourceType, current: dict[str, Any], grace: int
) -> tuple[dict[str, Any], bool]:
    """A terminating pod deleted again with a shorter period: removed at 0 unless finalizers remain."""
    if grace == 0 and not current["metadata"].get("finalizers"):
        await cluster.remove(resource, current)
        return current, True
    obj = deep_copy(current)
    obj["metadata"]["deletionTimestamp"] = cluster.now(after_seconds=grace)
    obj["metadata"]["deletionGracePeriodSeconds"] = grace
    return await cluster.commit(resource, obj), False


class GarbageCollector:
    """Finishes deletions in the background, one object reference at a time."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._dependents: dict[str, set[ObjectRef]] = {}
        self._live: dict[str, ObjectRef] = {}
        self._queue: asyncio.Queue[ObjectRef] = asyncio.Queue()
        self._queued: set[ObjectRef] = set()
        self._task: asyncio.Task[None] | None = None

    def rebuild_owner_index(self) -> None:
        store = self._cluster.store
        for storage_key in store.resources():
            for obj in store.items(storage_key):
                self._index(storage_key, obj)
                if obj["metadata"].get("deletionTimestamp"):
                    self.enqueue(_ref(storage_key, obj))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"gc-{self._cluster.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def enqueue(self, ref: ObjectRef) -> None:
        if ref not in self._queued:
            self._queued.add(ref)
            self._queue.put_nowait(ref)

    def dependents_of(self, uid: str) -> set[ObjectRef]:
        return set(self._dependents.get(uid, ()))

    def observe(self, change: Change) -> None:
        """Keep the owner index current and wake the work a change unblocks."""
        if change.previous is not None:
            for owner in change.previous["metadata"].get("ownerReferences") or []:
                self._dependents.get(owner.get("uid", ""), set()).discard(
                    (change.resource, change.namespace, change.name)
                )
            self._live.pop(change.previous["metadata"].get("uid", ""), None)
        if change.obj is not None:
            self._index(change.resource, change.obj)
            return
        assert change.previous is not None
        gone = change.previous
        uid = gone["metadata"].get("uid", "")
        for dependent in self._dependents.get(uid, set()):
            self.enqueue(dependent)
        for owner in gone["metadata"].get("ownerReferences") or []:
            owner_ref = self._live.get(owner.get("uid", ""))
            if owner_ref is not None:
                self.enqueue(owner_ref)
        if change.namespace:
            self.enqueue(("namespaces", "", change.namespace))
        for crd_ref in self._crds_serving(change.resource):
            self.enqueue(crd_ref)

    def _index(self, storage_key: str, obj: Mapping[str, Any]) -> None:
        metadata = obj["metadata"]
        ref = _ref(storage_key, obj)
        self._live[metadata.get("uid", "")] = ref
        for owner in metadata.get("ownerReferences") or []:
            self._dependents.setdefault(owner.get("uid", ""), set()).add(ref)

    def _crds_serving(self, storage_key: str) -> list[ObjectRef]:
        if "." not in storage_key:
            return []
        return [("customresourcedefinitions.apiextensions.k8s.io", "", storage_key)]

    async def _run(self) -> None:
        while True:
            ref = await self._queue.get()
            self._queued.discard(ref)
            try:
                await self._process(ref)
            except StatusError as exc:
                if exc.code not in (404, 409):
                    log.warning("garbage collection of %s failed: %s", ref, exc.message)
                await asyncio.sleep(0.05)
                self.enqueue(ref)
            except Exception:
                log.exception("garbage collection of %s failed", ref)
                await asyncio.sleep(0.5)
                self.enqueue(ref)

    async def _process(self, ref: ObjectRef) -> None:
        cluster = self._cluster
        storage_key, namespace, name = ref
        obj = cluster.store.get(storage_key, namespace, name)
        resource = cluster.storage_resource(storage_key)
        if obj is None or resource is None:
            return
        metadata = obj["metadata"]
        owners = metadata.get("ownerReferences") or []
        deleting = bool(metadata.get("deletionTimestamp"))
        # An orphan is deleted; one already terminating (its owner went after it) goes on to finalize.
        if owners and not deleting and not any(owner.get("uid") in self._live for owner in owners):
            await delete_object(cluster, resource, obj, DeleteOptions(propagation_policy="Background"))
            return
        if deleting:
            await self._finalize(storage_key, name, resource, obj)

    async def _finalize(
        self, storage_key: str, name: str, resource: ResourceType, obj: dict[str, Any]
    ) -> None:
        """Run the server's own finalizers of a terminating object; store those still pending."""
        metadata = obj["metadata"]
        finalizers = list(metadata.get("finalizers") or [])
        uid = metadata.get("uid", "")
        if ORPHAN in finalizers:
            await self._orphan_dependents(uid)
            finalizers.remove(ORPHAN)
        if FOREGROUND in finalizers:
            if not await self._delete_dependents_in_foreground(uid):
                return
            finalizers.remove(FOREGROUND)
        if storage_key == "namespaces" and not await self._empty_namespace(name):
            return
        if storage_key == "customresourcedefinitions.apiextensions.k8s.io" and CRD_CLEANUP in finalizers:
            if not await self._empty_custom_resources(obj):
                return
            finalizers.remove(CRD_CLEANUP)
        await self._set_finalizers(resource, obj, finalizers)

    async def _delete_dependents_in_foreground(self, uid: str) -> bool:
        """Delete what ``uid`` owns with foreground propagation; True once it owns nothing."""
        dependents = self.dependents_of(uid)
        for dependent in dependents:
            await self._delete_ref(dependent, "Foreground")
        return not dependents

    async def _set_finalizers(
        self, resource: ResourceType, obj: dict[str, Any], finalizers: list[str]
    ) -> None:
        desired = deep_copy(obj)
        desired["metadata"]["finalizers"] = finalizers
        if not finalizers:
            desired["metadata"].pop("finalizers")
        if resource.storage_key == "namespaces":
            desired.setdefault("spec", {})["finalizers"] = []
        if desired == obj:
            return
        metadata = obj["metadata"]
        await self._cluster.update(
            resource,
            metadata.get("namespace") or None,
            metadata["name"],
            desired,
            WriteOptions(field_validation="Ignore"),
        )

    async def _orphan_dependents(self, uid: str) -> None:
        for storage_key, namespace, name in self.dependents_of(uid):
            dependent = self._cluster.store.get(storage_key, namespace, name)
            resource = self._cluster.storage_resource(storage_key)
            if dependent is None or resource is None:
                continue
            desired = deep_copy(dependent)
            owners = [o for o in desired["metadata"].get("ownerReferences") or [] if o.get("uid") != uid]
            desired["metadata"]["ownerReferences"] = owners
            if not owners:
                desired["metadata"].pop("ownerReferences")
            await self._cluster.update(
                resource, namespace or None, name, desired, WriteOptions(field_validation="Ignore")
            )

    async def _delete_ref(self, ref: ObjectRef, policy: str) -> None:
        storage_key, namespace, name = ref
        obj = self._cluster.store.get(storage_key, namespace, name)
        resource = self._cluster.storage_resource(storage_key)
        if obj is not None and resource is not None:
            await delete_object(self._cluster, resource, obj, DeleteOptions(propagation_policy=policy))

    async def _empty_namespace(self, namespace: str) -> bool:
        """Delete everything in a terminating namespace; True once nothing is left."""
        empty = True
        storage_keys = {r.storage_key for r in self._cluster.index.all() if r.namespaced}
        for storage_key in sorted(storage_keys):
            for obj in list(self._cluster.store.items(storage_key, namespace)):
                empty = False
                await self._delete_ref(_ref(storage_key, obj), "Background")
        return empty

    async def _empty_custom_resources(self, crd: Mapping[str, Any]) -> bool:
        storage_key = str(crd["metadata"]["name"])
        leftovers = list(self._cluster.store.items(storage_key))
        for obj in leftovers:
            await self._delete_ref(_ref(storage_key, obj), "Background")
        return not leftovers


def _ref(storage_key: str, obj: Mapping[str, Any]) -> ObjectRef:
    metadata = obj["metadata"]
    return (storage_key, metadata.get("namespace", ""), metadata["name"])
