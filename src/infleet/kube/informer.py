"""An informer: one kind in one cluster mirrored into a :class:`Store`, with change handlers.

It lists, then watches from the list's resourceVersion and resumes from the last version it saw (bookmarks
included). On 410 it lists again and turns the difference with its cache into ADDED/MODIFIED/DELETED
events, so a change made while the watch was down is never lost. When the server goes away it reconnects
with backoff. Controllers register handlers that enqueue keys; the Manager runs informers as Runnables.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2

from infleet.api.resource_kind import ResourceKind
from infleet.kube.api_error import KubeAPIError
from infleet.kube.backoff import ExponentialBackoff
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.store import Store, object_key

log = logging.getLogger(__name__)

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


@dataclass(frozen=True)
class InformerEvent:
    """A change to the cache: ``old`` is the previous state for MODIFIED, the last state for DELETED."""

    type: str
    obj: dict[str, Any]
    old: dict[str, Any] | None
    cluster: str


EventHandler = Callable[[InformerEvent], None]


@dataclass
class InformerSettings:
    namespace: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None
    watch_timeout_seconds: int = 300
    reconnect_backoff: ExponentialBackoff = field(default_factory=lambda: ExponentialBackoff(0.05, 2.0))


def _resource_version(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class Informer:
    """List-then-watch cache of ``kind`` in ``client``'s cluster. Run it with :meth:`run`."""

    def __init__(
        self, client: ClusterClient, kind: ResourceKind, settings: InformerSettings | None = None
    ) -> None:
        self.client = client
        self.kind = kind
        self.settings = settings or InformerSettings()
        self.store = Store()
        self._handlers: list[EventHandler] = []
        self._synced = asyncio.Event()
        self.resource_version: str | None = None
        self.lists = 0
        self.watches = 0

    @property
    def cluster(self) -> str:
        return self.client.name

    def add_handler(self, handler: EventHandler) -> None:
        """Call ``handler`` for every change; registered late, it first sees the cache as ADDED events."""
        self._handlers.append(handler)
        for obj in self.store.list():
            handler(InformerEvent(ADDED, obj, None, self.cluster))

    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    async def run(self, stop: asyncio.Event) -> None:
        """List and watch until ``stop`` is set."""
        task = asyncio.get_running_loop().create_task(self._loop())
        stopper = asyncio.get_running_loop().create_task(stop.wait())
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for pending in (task, stopper):
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending

    async def _loop(self) -> None:
        failures = 0
        settings = self.settings
        while True:
            try:
                if self.resource_version is None:
                    await self._relist()
                assert self.resource_version is not None
                self.watches += 1
                async for event_type, obj in self.client.watch(
                    self.kind,
                    self.resource_version,
                    settings.namespace,
                    settings.label_selector,
                    settings.field_selector,
                    settings.watch_timeout_seconds,
                ):
                    failures = 0
                    self._apply(event_type, obj)
                continue  # a clean close: watch again from the last version seen
            except KubeAPIError as error:
                if error.gone:
                    log.info("%s in %s: %s; listing again", self.kind, self.cluster, error.message)
                    self.resource_version = None
                    continue
                failures += 1
                log.warning("%s in %s: %s", self.kind, self.cluster, error)
            except (httpx2.HTTPError, OSError) as error:
                failures += 1
                log.info("%s in %s: connection lost (%s); reconnecting", self.kind, self.cluster, error)
            except Exception:
                # Unexpected (a malformed event): start over from a fresh list rather than stop following.
                failures += 1
                self.resource_version = None
                log.exception("%s in %s: watch failed; listing again", self.kind, self.cluster)
            await asyncio.sleep(settings.reconnect_backoff.delay(failures))

    async def _relist(self) -> None:
        settings = self.settings
        listed = await self.client.list(
            self.kind, settings.namespace, settings.label_selector, settings.field_selector
        )
        self.lists += 1
        fresh = {object_key(obj): obj for obj in listed.items}
        events: list[InformerEvent] = []
        for key in self.store.keys():  # noqa: SIM118 (a copy: the loop deletes)
            if key not in fresh:
                old = self.store.delete(key)
                assert old is not None
                events.append(InformerEvent(DELETED, old, old, self.cluster))
        for obj in fresh.values():
            old = self.store.upsert(obj)
            if old is None:
                events.append(InformerEvent(ADDED, obj, None, self.cluster))
            elif _resource_version(old) != _resource_version(obj):
                events.append(InformerEvent(MODIFIED, obj, old, self.cluster))
        self.resource_version = listed.resource_version
        self._synced.set()
        self._dispatch(events)

    def _apply(self, event_type: str, obj: dict[str, Any]) -> None:
        version = _resource_version(obj)
        if version:
            self.resource_version = version
        if event_type == "BOOKMARK":
            return
        key = object_key(obj)
        if event_type == DELETED:
            old = self.store.delete(key)
            self._dispatch([InformerEvent(DELETED, obj, old, self.cluster)])
            return
        old = self.store.upsert(obj)
        self._dispatch([InformerEvent(ADDED if old is None else MODIFIED, obj, old, self.cluster)])

    def _dispatch(self, events: list[InformerEvent]) -> None:
        for event in events:
            for handler in self._handlers:
                try:
                    handler(event)
                except Exception:
                    # One broken handler must not stop the cache from following the cluster.
                    log.exception("handler for %s in %s failed", self.kind, self.cluster)
