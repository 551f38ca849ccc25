"""Watch fan-out for one logical cluster: a bounded window of recent events and live subscribers.

Every committed change becomes one :class:`WatchEvent`. Watchers resume from any resourceVersion still
inside the window; older ones get 410 Expired, as from kube-apiserver's watch cache. Each subscriber
has a bounded queue: one that falls too far behind is closed rather than allowed to grow memory, and
its client re-watches from the last resourceVersion it saw.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infleet.apiserver.errors import expired
from infleet.apiserver.storage import Change

# Decides whether an object belongs to a watcher's selection (namespace, label and field selectors).
ObjectFilter = Callable[[Mapping[str, Any]], bool]

# What a watcher is sent: the event type, the object, and the object's JSON when it is a stored
# revision whose encoding was made when it was written (None: encode it when sending).
Delivery = tuple[str, dict[str, Any], bytes | None]


@dataclass(frozen=True)
class WatchEvent:
    """A committed change as watchers see it."""

    resource_version: int
    resource: str
    obj: dict[str, Any] | None
    previous: dict[str, Any] | None
    data: bytes | None = None  # ``obj`` encoded, as stored

    @classmethod
    def from_change(cls, change: Change) -> WatchEvent:
        return cls(change.resource_version, change.resource, change.obj, change.previous, change.data)


@dataclass(eq=False)
class Subscriber:
    """One open watch: receives deliveries already filtered for it."""

    resource: str
    selects: ObjectFilter
    limit: int
    queue: asyncio.Queue[Delivery | None] = field(default_factory=asyncio.Queue)
    overflowed: bool = False

    def offer(self, event: WatchEvent) -> None:
        """Queue the event this change means for this watcher, if any (selector transitions)."""
        kind = translate(event, self.selects)
        if kind is None or self.overflowed:
            return
        if self.queue.qsize() >= self.limit:
            self.overflowed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(kind)

    def close(self) -> None:
        self.queue.put_nowait(None)


def translate(event: WatchEvent, selects: ObjectFilter) -> Delivery | None:
    """Map a change to ADDED/MODIFIED/DELETED for a filtered watch (kube watch-cache semantics)."""
    was = event.previous is not None and selects(event.previous)
    now = event.obj is not None and selects(event.obj)
    if now and event.obj is not None:
        return ("MODIFIED" if was else "ADDED", event.obj, event.data)
    if was and event.previous is not None:
        # Deleted, or moved out of the selection: watchers see it deleted, with its previous state.
        return ("DELETED", _with_resource_version(event.previous, event.resource_version), None)
    return None


def _with_resource_version(obj: dict[str, Any], rv: int) -> dict[str, Any]:
    metadata = dict(obj.get("metadata") or {})
    metadata["resourceVersion"] = str(rv)
    return {**obj, "metadata": metadata}


class WatchHub:
    """The event window and the subscribers of one cluster."""

    def __init__(self, window: int = 20_000, subscriber_queue_limit: int = 50_000) -> None:
        self._events: deque[WatchEvent] = deque(maxlen=window)
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._floor = 0
        self._subscriber_queue_limit = subscriber_queue_limit
        # Encoded events shared by every watcher that sends them; keyed by object identity, which is
        # safe because stored objects are never mutated and each entry keeps its object alive.
        self._encoded: dict[tuple[str, int], tuple[dict[str, Any], bytes]] = {}
        self._encoded_bytes = 0

    def start_at(self, resource_version: int) -> None:
        """Events at or below this version are not available (e.g. from before a restart)."""
        self._floor = resource_version

    @property
    def oldest_available(self) -> int:
        """The smallest resourceVersion a watch may resume from."""
        if len(self._events) == self._events.maxlen and self._events:
            return self._events[0].resource_version
        return self._floor

    def publish(self, changes: list[Change]) -> None:
        for change in changes:
            event = WatchEvent.from_change(change)
            self._events.append(event)
            for subscriber in tuple(self._subscribers.get(change.resource, ())):
                subscriber.offer(event)

    def replay(self, resource: str, since: int, selects: ObjectFilter) -> list[Delivery]:
        """Events of ``resource`` after ``since``; raises 410 Expired if the window no longer has them."""
        oldest = self.oldest_available
        if since < oldest:
            raise expired(f"too old resource version: {since} ({oldest})")
        replayed = []
        for event in self._events:
            if event.resource_version > since and event.resource == resource:
                translated = translate(event, selects)
                if translated is not None:
                    replayed.append(translated)
        return replayed

    def encoded(self, kind: str, obj: dict[str, Any], encode: Callable[[], bytes]) -> bytes:
        """``encode()`` once per stored object and event type, however many watchers send it."""
        key = (kind, id(obj))
        entry = self._encoded.get(key)
        if entry is not None and entry[0] is obj:
            return entry[1]
        # Only the events being fanned out right now need to be here: keep it small in entries and bytes.
        if len(self._encoded) >= 1024 or self._encoded_bytes >= 16 * 1024 * 1024:
            self._encoded.clear()
            self._encoded_bytes = 0
        line = encode()
        self._encoded[key] = (obj, line)
        self._encoded_bytes += len(line)
        return line

    def subscribe(self, resource: str, selects: ObjectFilter) -> Subscriber:
        subscriber = Subscriber(resource, selects, self._subscriber_queue_limit)
        self._subscribers.setdefault(resource, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.get(subscriber.resource, set()).discard(subscriber)

    def close_resource(self, resource: str) -> None:
        """End every watch on a resource that stopped existing (its CRD was deleted)."""
        for subscriber in self._subscribers.pop(resource, set()):
            subscriber.close()

    def close_all(self) -> None:
        for resource in list(self._subscribers):
            self.close_resource(resource)

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())
