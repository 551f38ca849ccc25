"""Which hub objects a placement's ``resourceSelectors`` pick, cleaned of what the hub's API server owns
(uid, resourceVersion, status, ...), in a stable order. KubeFleet's rules: a ClusterResourcePlacement
selects cluster-scoped objects (a Namespace brings its objects unless ``selectionScope: NamespaceOnly``),
a ResourcePlacement objects of its own namespace; Pods, Events, Leases, fleet objects and the reserved
namespaces are never placed. The placement controller calls :func:`select_resources`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from infleet.api.kubernetes import NAMESPACE
from infleet.api.labels import KUBECTL_LAST_APPLIED_ANNOTATION
from infleet.api.placement_kubernetes_fleet_io.v1beta1.placement import ResourceSelector
from infleet.api.resource_kind import ResourceKind
from infleet.fleet.hub.namespace_contents import NamespaceContents
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.discovery import Discovery, UnknownKindError

#: Groups whose objects describe the fleet itself, and kinds that only make sense where they were made.
_NEVER_GROUPS = frozenset(
    {
        "cluster.kubernetes-fleet.io",
        "placement.kubernetes-fleet.io",
        "coordination.k8s.io",
        "events.k8s.io",
        "discovery.k8s.io",
        "metrics.k8s.io",
    }
)
_NEVER_KINDS = frozenset({"Pod", "Node", "Event", "Endpoints", "ReplicaSet", "ControllerRevision", "Binding"})
_RESERVED_NAMESPACE_PREFIXES = ("kube-", "fleet-")
_RESERVED_NAMESPACES = frozenset({"default"})
#: Objects every namespace gets by itself in a member; placing the hub's copy would fight that.
_PER_NAMESPACE_DEFAULTS = frozenset({("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")})
_SERVER_OWNED_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "ownerReferences",
    "finalizers",
)


class InvalidSelectorError(ValueError):
    """A selector that can never select anything; the message names the selector and the fix."""


@dataclass(frozen=True)
class SelectionScope:
    """Where the placement lives: ``namespace`` empty for a ClusterResourcePlacement."""

    namespace: str = ""

    @property
    def cluster_scoped(self) -> bool:
        return not self.namespace


def placeable(resource: ResourceKind) -> bool:
    return resource.group not in _NEVER_GROUPS and resource.kind not in _NEVER_KINDS


def reserved_namespace(name: str) -> bool:
    return name in _RESERVED_NAMESPACES or name.startswith(_RESERVED_NAMESPACE_PREFIXES)


async def select_resources(
    client: ClusterClient,
    discovery: Discovery,
    selectors: Iterable[ResourceSelector],
    scope: SelectionScope,
    contents: NamespaceContents | None = None,
) -> list[dict[str, Any]]:
    """The selected objects, cleaned and sorted (namespaces first); raises :class:`InvalidSelectorError`.
    A Namespace's objects come from ``contents`` (the hub's caches) when given, else from the API server."""
    contents = contents or NamespaceContents(client, discovery)
    found: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for index, selector in enumerate(selectors):
        where = f"spec.resourceSelectors[{index}]"
        resource = await _resolve(discovery, selector, where)
        _check_scope(resource, scope, where)
        for obj in await _matching(client, contents, resource, selector, scope):
            await _add(found, obj, resource)
            if resource == NAMESPACE and selector.selection_scope == "NamespaceWithResources":
                for child in await _namespace_contents(contents, discovery, obj["metadata"]["name"]):
                    await _add(found, child, None)
    return [clean(obj) for _, obj in sorted(found.items(), key=lambda item: _order(item[0]))]


async def _resolve(discovery: Discovery, selector: ResourceSelector, where: str) -> ResourceKind:
    try:
        resource = await discovery.resolve_group_kind(selector.group, selector.version, selector.kind)
    except UnknownKindError:
        api_version = f"{selector.group}/{selector.version}" if selector.group else selector.version
        raise InvalidSelectorError(
            f"{where}: the hub serves no kind {selector.kind!r} in {api_version!r}; "
            "fix group, version and kind, or install the CRD on the hub"
        ) from None
    if not placeable(resource):
        raise InvalidSelectorError(f"{where}: {resource.kind} objects cannot be placed; remove this selector")
    return resource


def _check_scope(resource: ResourceKind, scope: SelectionScope, where: str) -> None:
    if scope.cluster_scoped and resource.namespaced:
        raise InvalidSelectorError(
            f"{where}: a ClusterResourcePlacement selects cluster-scoped kinds, and {resource.kind} is "
            "namespaced; select its Namespace, or use a ResourcePlacement in that namespace"
        )
    if not scope.cluster_scoped and not resource.namespaced:
        raise InvalidSelectorError(
            f"{where}: a ResourcePlacement selects objects of its own namespace, and {resource.kind} is "
            "cluster-scoped; use a ClusterResourcePlacement"
        )


async def _matching(
    client: ClusterClient,
    contents: NamespaceContents,
    resource: ResourceKind,
    selector: ResourceSelector,
    scope: SelectionScope,
) -> list[dict[str, Any]]:
    namespace = scope.namespace or None
    if selector.name:
        items = await contents.named(resource, selector.name, namespace)
    else:
        query = selector.label_selector.to_query() if selector.label_selector else None
        items = (await client.list(resource, namespace, label_selector=query or None)).items
    if resource == NAMESPACE:
        items = [item for item in items if not reserved_namespace(item["metadata"]["name"])]
    return items


async def _namespace_contents(
    contents: NamespaceContents, discovery: Discovery, namespace: str
) -> list[dict[str, Any]]:
    kinds = [
        served
        for served in await discovery.kinds()
        if served.resource.namespaced and placeable(served.resource) and {"list", "create"} <= served.verbs
    ]
    return await contents.list(namespace, kinds)


async def _add(
    found: dict[tuple[str, str, str, str], dict[str, Any]], obj: dict[str, Any], resource: ResourceKind | None
) -> None:
    metadata = obj.get("metadata") or {}
    if (obj.get("kind"), metadata.get("name")) in _PER_NAMESPACE_DEFAULTS:
        return
    if any(ref.get("controller") for ref in metadata.get("ownerReferences") or ()):
        return  # made by a controller on the hub; the member's controllers make their own
    if metadata.get("deletionTimestamp"):
        return
    group = obj.get("apiVersion", "").rpartition("/")[0]
    key = (group, str(obj.get("kind")), str(metadata.get("namespace") or ""), str(metadata.get("name")))
    found.setdefault(key, obj)


def _order(key: tuple[str, str, str, str]) -> tuple[int, str, str, str, str]:
    group, kind, namespace, name = key
    return (0 if kind == "Namespace" and not group else 1, namespace, group, kind, name)


def clean(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as a member should receive it: no server-owned metadata, no status."""
    out = copy.deepcopy(obj)
    out.pop("status", None)
    metadata = out.setdefault("metadata", {})
    for key in _SERVER_OWNED_METADATA:
        metadata.pop(key, None)
    annotations = metadata.get("annotations") or {}
    annotations.pop(KUBECTL_LAST_APPLIED_ANNOTATION, None)
    if not annotations:
        metadata.pop("annotations", None)
    if out.get("kind") == "Service" and out.get("apiVersion") == "v1":
        spec = out.get("spec") or {}
        for key in ("clusterIP", "clusterIPs"):
            spec.pop(key, None)  # assigned by each member's API server
    return out
