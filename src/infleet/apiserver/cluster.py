"""One logical cluster: its resource types, objects, watch hub, and the verbs kube-apiserver serves.

The HTTP layer parses requests and calls these verbs; they enforce Kubernetes semantics (metadata
rules, optimistic concurrency, status separation, generation, finalizers) and persist through the
:class:`ObjectStore`. Every verb runs on the event loop without awaiting between read and write, so a
read-modify-write is atomic; only the durable commit is awaited.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from infleet.apiserver import builtin_conversion, crds, deletion, namespace_defaults, storage
from infleet.apiserver.admission import admit
from infleet.apiserver.builtin_defaults import apply_builtin_defaults
from infleet.apiserver.builtin_kinds import builtin_resources
from infleet.apiserver.errors import (
    Cause,
    StatusError,
    already_exists,
    bad_request,
    conflict,
    forbidden,
    invalid,
    not_found,
)
from infleet.apiserver.managed_fields import track_update
from infleet.apiserver.metrics_resources import METRICS_RESOURCES
from infleet.apiserver.object_meta import (
    SERVER_OWNED,
    desired_state,
    format_timestamp,
    generated_name,
    name_causes,
)
from infleet.apiserver.openapi import OpenAPIDocuments
from infleet.apiserver.resources import ResourceIndex, ResourceType
from infleet.apiserver.selection import Selection, decode_continue, encode_continue, selector_filter
from infleet.apiserver.storage import (
    Change,
    ObjectStore,
    StoredObject,
    UnstorableObjectError,
    checked_encoding,
)
from infleet.apiserver.watch import WatchHub
from infleet.apiserver.write_rules import (
    WriteOptions,
    WriteResult,
    check_deleting_finalizers,
    checked_body,
    deep_copy,
    unchanged,
)

Clock = Callable[[], datetime]
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass(frozen=True)
class ListResult:
    items: list[dict[str, Any]]
    resource_version: int
    continue_token: str | None = None
    remaining: int | None = None
    # Each item as JSON (the cached encoding of the stored revision where it is served as it is).
    encodings: list[bytes] = field(default_factory=list)


class Cluster:
    """State and verbs of one logical cluster served under ``/clusters/<name>``."""

    def __init__(
        self, name: str, data_path: Path | None, clock: Clock | None = None, watch_window: int = 20_000
    ) -> None:
        self.name = name
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.index = ResourceIndex()
        for resource in (*builtin_resources(), *METRICS_RESOURCES):
            self.index.add(resource)
        self.hub = WatchHub(window=watch_window)
        self.store = ObjectStore(data_path, on_commit=self._on_commit)
        self.collector = deletion.GarbageCollector(self)
        self.openapi = OpenAPIDocuments(self.index)
        self.kubelet_token: str | None = None  # presented to kubelets when proxying pods/log
        self.root_ca_pem: str | None = None  # published in every namespace as kube-root-ca.crt

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self.store.open()
        for crd in list(self.store.items(crds.CRD_STORAGE_KEY)):
            crds.register(self.index, crd)
        self.openapi.invalidate()
        self.hub.start_at(self.store.resource_version)
        self.collector.rebuild_owner_index()
        for namespace in DEFAULT_NAMESPACES:
            if self.store.get("namespaces", "", namespace) is None:
                body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
                options = WriteOptions(field_manager="kube-apiserver")
                await self.create(self.resource("", "v1", "namespaces"), None, body, options)
        await namespace_defaults.ensure_cluster_defaults(self)
        self.collector.start()

    async def stop(self) -> None:
        await self.collector.stop()
        self.hub.close_all()
        self.store.close()

    def now(self, after_seconds: float = 0) -> str:
        moment = self.clock()
        return format_timestamp(moment + timedelta(seconds=after_seconds) if after_seconds else moment)

    def resource(self, group: str, version: str, plural: str) -> ResourceType:
        found = self.index.get(group, version, plural)
        if found is None:
            raise StatusError(404, "NotFound", f"the server could not find the requested resource ({plural})")
        return found

    def _on_commit(self, changes: list[Change]) -> None:
        for change in changes:
            self.collector.observe(change)
            if change.resource == crds.CRD_STORAGE_KEY:
                crds.on_crd_change(self, change)
                self.openapi.invalidate()
        self.hub.publish(changes)

    # -- reads -----------------------------------------------------------------------------------

    def get(self, resource: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.store.get(resource.storage_key, namespace or "", name)
        if obj is None:
            raise not_found(resource.plural, name, resource.group)
        return self.as_version(resource, obj)

    def as_version(self, resource: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Serve an object stored under another version of the same CRD with this apiVersion."""
        if obj.get("apiVersion") == resource.api_version:
            return obj
        return builtin_conversion.convert(obj, resource.api_version)

    def list(
        self, resource: ResourceType, selection: Selection, limit: int = 0, continue_token: str | None = None
    ) -> ListResult:
        start_after: tuple[str, str] | None = None
        rv = self.store.resource_version
        if continue_token:
            rv, start_after = decode_continue(continue_token, self.hub.oldest_available)
        key = resource.storage_key
        if selection.labels is None and selection.fields is None:
            # The store keeps to the namespace: the page is a slice of its index, the rest a count.
            items, encodings, remaining = self.store.window(key, selection.namespace, start_after, limit)
        else:
            items, encodings, remaining = self._selected(resource, selection, start_after, limit)
        if storage.CHECK_ENCODINGS:
            for obj, data in zip(items, encodings, strict=True):
                checked_encoding(obj, data)
        api_version = resource.api_version
        if self.store.api_versions(key) - {api_version}:
            for index in [i for i, obj in enumerate(items) if obj.get("apiVersion") != api_version]:
                items[index] = builtin_conversion.convert(items[index], api_version)
                encodings[index] = orjson.dumps(items[index])
        if remaining and items:
            # The key of the last stored object (a converted copy has the same namespace and name).
            return ListResult(items, rv, encode_continue(rv, _key(items[-1])), remaining, encodings)
        return ListResult(items, rv, encodings=encodings)

    def _selected(
        self, resource: ResourceType, selection: Selection, after: tuple[str, str] | None, limit: int
    ) -> storage.Window:
        """The first ``limit`` (0: all) objects after ``after`` that the selectors select."""
        selects = selector_filter(resource, selection)
        items: list[dict[str, Any]] = []
        encodings: list[bytes] = []
        remaining = 0
        for stored in self._candidates(resource, selection, after):
            if not selects(stored.obj):
                continue
            if limit and len(items) >= limit:
                remaining += 1
            else:
                items.append(stored.obj)
                encodings.append(stored.data)
        return storage.Window(items, encodings, remaining)

    def _candidates(
        self, resource: ResourceType, selection: Selection, after: tuple[str, str] | None = None
    ) -> Iterator[StoredObject]:
        name = selection.fields.exact("metadata.name") if selection.fields is not None else None
        if name is not None and selection.namespace is not None:
            stored = self.store.stored(resource.storage_key, selection.namespace, name)
            if stored is None or (after is not None and (selection.namespace, name) <= after):
                return iter([])
            return iter([stored])
        return self.store.stored_items(resource.storage_key, selection.namespace, after)

    # -- writes ----------------------------------------------------------------------------------

    def _check_namespace(self, resource: ResourceType, namespace: str | None, creating: bool) -> str:
        if not resource.namespaced:
            return ""
        if not namespace:
            raise bad_request(f"{resource.kind}: a namespace is required for namespaced resources")
        ns = self.store.get("namespaces", "", namespace)
        if ns is None:
            raise StatusError(
                404, "NotFound", f'namespaces "{namespace}" not found', name=namespace, kind="namespaces"
            )
        if creating and (ns.get("metadata") or {}).get("deletionTimestamp"):
            raise forbidden(
                f"unable to create new content in namespace {namespace} because it is being terminated",
                name=namespace,
                kind="namespaces",
            )
        return namespace

    async def create(
        self, resource: ResourceType, namespace: str | None, body: Any, options: WriteOptions
    ) -> WriteResult:
        ns = self._check_namespace(resource, namespace, creating=True)
        obj = checked_body(resource, deep_copy(body) if isinstance(body, dict) else body, ns, None)
        obj = builtin_conversion.to_storage(obj)
        metadata = obj["metadata"]
        if metadata.get("resourceVersion"):
            raise bad_request(f"{resource.kind}: resourceVersion should not be set on objects to be created")
        name = self._name_for_create(resource, ns, metadata)
        causes = name_causes(resource.kind, name)
        if causes:
            raise invalid(resource.kind, name, causes, group=resource.group)
        self._stamp_new(resource, obj)
        apply_builtin_defaults(resource, obj, self)
        warnings = admit(resource, obj, options.field_validation, shape_checked=True)
        if resource.storage_key == crds.CRD_STORAGE_KEY:
            crds.prepare_create(self.index, obj)
        if not options.applied:
            track_update(resource, None, obj, options.field_manager, None, self.now())
        if self.store.get(resource.storage_key, ns, name) is not None:
            raise already_exists(resource.plural, name, resource.group)
        if options.dry_run:
            return WriteResult(obj, created=True, warnings=warnings)
        stored = await self.commit(resource, obj)
        if resource.storage_key == "namespaces":
            await namespace_defaults.ensure_namespace_defaults(self, stored)
        return WriteResult(stored, created=True, warnings=warnings)

    def _name_for_create(self, resource: ResourceType, namespace: str, metadata: dict[str, Any]) -> str:
        """The name to create under: the one given, or a free one made from ``generateName``."""
        if not metadata.get("name") and metadata.get("generateName"):
            for _ in range(8):
                candidate = generated_name(str(metadata["generateName"]))
                if self.store.get(resource.storage_key, namespace, candidate) is None:
                    metadata["name"] = candidate
                    break
        return str(metadata.get("name", ""))

    def _stamp_new(self, resource: ResourceType, obj: dict[str, Any]) -> None:
        """Server-owned metadata of a new object; a custom resource starts without status."""
        metadata = obj["metadata"]
        for key in SERVER_OWNED:
            metadata.pop(key, None)
        metadata.pop("deletionGracePeriodSeconds", None)
        metadata["uid"] = str(uuid.uuid4())
        metadata["creationTimestamp"] = self.now()
        metadata["generation"] = 1
        if resource.has_status and not resource.builtin:
            obj.pop("status", None)

    async def update(
        self,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        options: WriteOptions,
        subresource: str | None = None,
    ) -> WriteResult:
        ns = self._check_namespace(resource, namespace, creating=False)
        body = checked_body(resource, deep_copy(body) if isinstance(body, dict) else body, ns, name)
        current = self.store.get(resource.storage_key, ns, name)
        if current is None:
            raise not_found(resource.plural, name, resource.group)
        wanted_rv = body["metadata"].get("resourceVersion")
        if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
            raise conflict(resource.plural, name, resource.group)
        return await self._replace(resource, current, body, options, subresource)

    async def _replace(
        self,
        resource: ResourceType,
        current: dict[str, Any],
        desired: dict[str, Any],
        options: WriteOptions,
        subresource: str | None,
    ) -> WriteResult:
        """Turn ``desired`` into the next stored version of ``current`` and commit it."""
        obj = _next_version(resource, current, builtin_conversion.to_storage(desired), subresource)
        metadata = obj["metadata"]
        check_deleting_finalizers(resource, current, obj)
        apply_builtin_defaults(resource, obj, self, old=current)
        warnings = admit(resource, obj, options.field_validation, old=current, subresource=subresource)
        if resource.storage_key == crds.CRD_STORAGE_KEY and subresource != "status":
            crds.prepare_update(self.index, current, obj)
        if desired_state(obj, resource.has_status) != desired_state(current, resource.has_status):
            metadata["generation"] = int(current["metadata"].get("generation", 1)) + 1
        if not options.applied:
            track_update(resource, current, obj, options.field_manager, subresource, self.now())
        if unchanged(current, obj):
            return WriteResult(current, warnings=warnings)
        if options.dry_run:
            return WriteResult(obj, warnings=warnings)
        # Gone once nothing holds it: no finalizer left and (a pod) its containers stopped.
        if (
            metadata.get("deletionTimestamp")
            and not metadata.get("finalizers")
            and not metadata.get("deletionGracePeriodSeconds")
        ):
            await self.remove(resource, obj)
            return WriteResult(obj, warnings=warnings)
        stored = await self.commit(resource, obj)
        return WriteResult(stored, warnings=warnings)

    async def patch(
        self,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        patcher: Callable[[dict[str, Any] | None], dict[str, Any]],
        options: WriteOptions,
        subresource: str | None = None,
        create_if_missing: bool = False,
    ) -> WriteResult:
        """Apply ``patcher`` to the current object (or None when it is missing and may be created)."""
        ns = self._check_namespace(resource, namespace, creating=False)
        current = self.store.get(resource.storage_key, ns, name)
        if current is None:
            if not create_if_missing:
                raise not_found(resource.plural, name, resource.group)
            body = patcher(None)
            body.setdefault("metadata", {})["name"] = name
            return await self.create(resource, namespace, body, options)
        patched = patcher(deep_copy(self.as_version(resource, current)))
        if not isinstance(patched, dict):
            raise bad_request(f"{resource.kind} {name!r}: the patch did not produce an object")
        patched_meta = patched.get("metadata")
        if isinstance(patched_meta, dict):
            wanted_rv = patched_meta.get("resourceVersion")
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise conflict(resource.plural, name, resource.group)
        patched = checked_body(resource, patched, ns, name)
        return await self._replace(resource, current, patched, options, subresource)

    async def delete(
        self,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        options: deletion.DeleteOptions,
    ) -> tuple[dict[str, Any], bool]:
        """Delete or start deleting an object; returns (object, finished)."""
        ns = self._check_namespace(resource, namespace, creating=False)
        current = self.store.get(resource.storage_key, ns, name)
        if current is None:
            raise not_found(resource.plural, name, resource.group)
        return await deletion.delete_object(self, resource, current, options)

    async def commit(self, resource: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Store ``obj`` under a new resourceVersion; returns once it is durable and announced."""
        metadata = obj["metadata"]
        rv = self.store.next_resource_version()
        metadata["resourceVersion"] = str(rv)
        try:
            change = self.store.write(
                resource.storage_key, metadata.get("namespace", ""), metadata["name"], obj, rv
            )
        except UnstorableObjectError as error:  # nothing changed: this request alone fails
            self.store.release_resource_version(rv)
            cause = Cause("FieldValueInvalid", str(error))
            raise invalid(resource.kind, str(metadata.get("name")), [cause], resource.group) from None
        await self.store.persist(change)
        return obj

    async def remove(self, resource: ResourceType, obj: dict[str, Any]) -> None:
        """Delete ``obj`` for good (its finalizers are done); returns once durable and announced."""
        metadata = obj["metadata"]
        rv = self.store.next_resource_version()
        change = self.store.write(
            resource.storage_key, metadata.get("namespace", ""), metadata["name"], None, rv
        )
        await self.store.persist(change)

    def storage_resource(self, storage_key: str) -> ResourceType | None:
        versions = self.index.versions_of(storage_key)
        return versions[0] if versions else None


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    metadata = obj["metadata"]
    return (metadata.get("namespace", ""), metadata["name"])


def _next_version(
    resource: ResourceType, current: dict[str, Any], desired: dict[str, Any], subresource: str | None
) -> dict[str, Any]:
    """``desired`` with what the request may not change taken from ``current``: the status on the main
    resource (and through ``scale``), everything but the status on the status subresource, and
    server-owned metadata."""
    if subresource == "status":
        obj = deep_copy(current)
        if "status" in desired:
            obj["status"] = desired["status"]
        else:
            obj.pop("status", None)
        # An apply through /status computed the new ownership; an update's is recomputed from current.
        managed = (desired.get("metadata") or {}).get("managedFields")
        if managed is not None:
            obj["metadata"]["managedFields"] = managed
        obj["apiVersion"] = current.get("apiVersion", resource.api_version)
        return obj
    obj = desired
    if resource.has_status:
        if "status" in current:
            obj["status"] = deep_copy({"s": current["status"]})["s"]
        else:
            obj.pop("status", None)
    metadata, current_meta = obj["metadata"], current["metadata"]
    for key in (*SERVER_OWNED, "deletionGracePeriodSeconds"):
        if key in current_meta:
            metadata[key] = current_meta[key]
        else:
            metadata.pop(key, None)
    obj["apiVersion"] = current.get("apiVersion", resource.api_version)
    return obj
