"""What a selected Namespace brings to a ClusterResourcePlacement, read from the hub's informer caches:
one informer per placeable namespaced kind (all namespaces), started the first time a placement selects
a Namespace's contents, and one per kind that a selector names an object of. Listing every such kind
from the API server on each placement reconcile (and each placement's 60 s re-selection) was most
of the placement controller's time with 1,000 placements.

Until a kind's cache has synced, that kind is listed from the API server as before. A cache lags the
API server by a watch event, so every change it sees re-runs the placements that may select its
namespace (:meth:`NamespaceContents.placements_selecting`): a selection that missed an object just
created is redone when the object's event arrives, as a LIST would have found it.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from infleet.api.kubernetes import NAMESPACE
from infleet.api.resource_kind import ResourceKind
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.discovery import Discovery, ServedKind
from infleet.kube.informer import MODIFIED, Informer, InformerEvent
from infleet.kube.reconciler import Request
from infleet.kube.store import Store

EventHandler = Callable[[InformerEvent], None]


class NamespaceContents:
    """A manager runnable: its informers run while it runs; before (or without) that, it lists."""

    def __init__(self, client: ClusterClient, discovery: Discovery) -> None:
        self._client = client
        self._discovery = discovery
        self._informers: dict[ResourceKind, Informer] = {}
        self._handlers: list[EventHandler] = []
        self._stop: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        await stop.wait()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def add_handler(self, handler: EventHandler) -> None:
        """Called for every change of every kind this ever caches (kinds started later included)."""
        self._handlers.append(handler)
        for informer in self._informers.values():
            informer.add_handler(handler)

    @property
    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    async def list(self, namespace: str, kinds: Iterable[ServedKind]) -> list[dict[str, Any]]:
        contents: list[dict[str, Any]] = []
        for served in kinds:
            informer = self._informer(served.resource)
            if informer is not None and informer.has_synced():
                contents += informer.store.list(namespace)
            else:
                contents += (await self._client.list(served.resource, namespace)).items
        return contents

    async def named(
        self, resource: ResourceKind, name: str, namespace: str | None
    ) -> builtins.list[dict[str, Any]]:
        """The object ``name`` of ``resource`` (none or one), from its cache once synced. A placement
        names its Namespace; a field-selected LIST per placement run was a scan of every namespace."""
        informer = self._informer(resource)
        if informer is not None and informer.has_synced():
            found = informer.store.get(name, namespace)
            return [found] if found is not None else []
        return (await self._client.list(resource, namespace, field_selector=f"metadata.name={name}")).items

    def _informer(self, resource: ResourceKind) -> Informer | None:
        informer = self._informers.get(resource)
        if informer is None and self._stop is not None and not self._stop.is_set():
            informer = self._informers[resource] = Informer(self._client, resource)
            for handler in self._handlers:
                informer.add_handler(handler)
            self._tasks.append(asyncio.ensure_future(informer.run(self._stop)))
        return informer


def placements_selecting(placements: Store) -> Callable[[InformerEvent], list[Request]]:
    """An object's change -> the ClusterResourcePlacements that may select its namespace's contents:
    those naming the namespace, and (not knowing its labels here) all that select Namespaces by label."""

    def mapper(event: InformerEvent) -> list[Request]:
        if event.type == MODIFIED and event.old is not None and _placed(event.old) == _placed(event.obj):
            return []  # a status write (a hub ModelDeployment's mirrored status): nothing placed changed
        metadata = event.obj.get("metadata") or {}
        namespace = metadata.get("namespace")
        if not namespace and event.obj.get("kind") == NAMESPACE.kind:
            namespace = metadata.get("name")  # a Namespace that appears after the placement naming it
        if not namespace:
            return []
        return [
            Request(event.cluster, "", placement["metadata"]["name"])
            for placement in placements.list()
            if _may_select(placement, namespace)
        ]

    return mapper


def _placed(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What of an object a placement carries (``resource_selection.clean`` drops status), plus the
    metadata that decides whether it is carried at all."""
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _VOLATILE_METADATA}
    return {k: v for k, v in obj.items() if k not in ("status", "metadata")}, metadata


_VOLATILE_METADATA = frozenset({"resourceVersion", "managedFields"})


def _may_select(placement: dict[str, Any], namespace: str) -> bool:
    for selector in (placement.get("spec") or {}).get("resourceSelectors") or ():
        if (
            selector.get("kind") == NAMESPACE.kind
            and not selector.get("group")
            and selector.get("selectionScope") != "NamespaceOnly"
            and selector.get("name") in (None, "", namespace)
        ):
            return True
    return False
