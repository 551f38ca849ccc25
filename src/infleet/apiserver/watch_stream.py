"""Serving one watch request as a stream of newline-delimited JSON events.

Handles ``resourceVersion`` (unset/0: synthetic ADDED for current objects; N: replay after N; too old:
one ERROR event with a 410 Status), WatchList (``sendInitialEvents`` ending in an annotated BOOKMARK),
periodic bookmarks, ``timeoutSeconds``, and Table-formatted events for ``kubectl get -w``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from infleet.api.labels import INITIAL_EVENTS_END_ANNOTATION
from infleet.apiserver.cluster import Cluster
from infleet.apiserver.errors import Cause, StatusError, invalid
from infleet.apiserver.resources import ResourceType
from infleet.apiserver.selection import Selection, selector_filter
from infleet.apiserver.storage import checked_encoding
from infleet.apiserver.watch import Delivery

# Turns an object into what the client asked to see (the object itself, or a one-row Table).
EventRenderer = Callable[[dict[str, Any], bool], dict[str, Any]]


@dataclass(frozen=True)
class WatchRequest:
    selection: Selection
    resource_version: int | None
    send_initial_events: bool
    allow_bookmarks: bool
    timeout_seconds: float
    bookmark_interval: float = 60.0


def validate_watch_list(query: dict[str, str], send_initial_events: bool, allow_bookmarks: bool) -> None:
    """WatchList parameter rules from kube-apiserver's ListOptions validation."""
    match = query.get("resourceVersionMatch")
    if send_initial_events and (match != "NotOlderThan" or not allow_bookmarks):
        raise invalid(
            "ListOptions",
            "",
            [
                Cause(
                    "FieldValueForbidden",
                    "sendInitialEvents requires resourceVersionMatch=NotOlderThan and "
                    "allowWatchBookmarks=true",
                    "sendInitialEvents",
                )
            ],
        )
    if match and not send_initial_events:
        raise invalid(
            "ListOptions",
            "",
            [
                Cause(
                    "FieldValueForbidden",
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                    "resourceVersionMatch",
                )
            ],
        )


def default_timeout(min_request_timeout: float = 1800.0) -> float:
    """Like kube-apiserver: a random duration between one and two minimum request timeouts."""
    return min_request_timeout * (1 + random.random())


# Queued by a watch's own timer to wake it for a bookmark or its timeout; never sent.
_WAKE: Delivery = ("WAKE", {}, None)


def _line(kind: str, obj: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": kind, "object": obj}) + b"\n"


def _line_of_encoded(kind: str, data: bytes) -> bytes:
    """What :func:`_line` writes, around an object already encoded."""
    return b'{"type":' + orjson.dumps(kind) + b',"object":' + data + b"}\n"


def _bookmark(resource: ResourceType, rv: int, initial_end: bool) -> bytes:
    metadata: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        metadata["annotations"] = {INITIAL_EVENTS_END_ANNOTATION: "true"}
    return _line(
        "BOOKMARK", {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": metadata}
    )


async def stream_events(
    cluster: Cluster, resource: ResourceType, request: WatchRequest, render: EventRenderer
) -> AsyncIterator[bytes]:
    """Yield the encoded events of one watch until its timeout, the client leaves, or the server stops."""
    selects = selector_filter(resource, request.selection)
    encode = _encoder(cluster, resource, render)
    try:
        if request.resource_version is None or request.send_initial_events:
            listed = cluster.list(resource, request.selection)
            initial: list[Delivery] = [
                ("ADDED", obj, data) for obj, data in zip(listed.items, listed.encodings, strict=True)
            ]
        else:
            initial = cluster.hub.replay(resource.storage_key, request.resource_version, selects)
    except StatusError as error:
        yield _line("ERROR", error.to_status())
        return
    initial_end = cluster.store.resource_version if request.send_initial_events else None
    subscriber = cluster.hub.subscribe(resource.storage_key, selects)
    clock = _WatchClock(request, subscriber.queue.put_nowait)
    try:
        for line in _initial_lines(resource, initial, encode, initial_end):
            yield line
        clock.start()
        while True:
            item = await subscriber.queue.get()
            if item is _WAKE:
                now = time.monotonic()
                if now >= clock.deadline:
                    return
                if clock.bookmark_due(now):
                    yield _bookmark(resource, cluster.store.resource_version, initial_end=False)
                    clock.idle_since = time.monotonic()
                clock.arm()
                continue
            if item is None:
                return
            # Send what is already queued as one chunk: one socket write per wakeup, not per event.
            chunk, closed, woken = _drain(subscriber.queue, encode, item)
            yield chunk
            if closed or clock.chunk_sent(woken):
                return
    finally:
        clock.cancel()
        cluster.hub.unsubscribe(subscriber)


def _encoder(cluster: Cluster, resource: ResourceType, render: EventRenderer) -> Callable[[Delivery], bytes]:
    """The event encoder of one watch; the renderer learns which event is the watch's first."""
    first = True

    def encode(delivery: Delivery) -> bytes:
        nonlocal first
        kind, obj, data = delivery
        versioned = cluster.as_version(resource, obj)
        rendered = render(versioned, first)
        first = False
        if rendered is obj:  # the stored object as it is: one line for all watchers
            if data is None:
                return cluster.hub.encoded(kind, obj, lambda: _line(kind, obj))
            encoded = checked_encoding(obj, data)  # its bytes from the write: no encoding at all
            return cluster.hub.encoded(kind, obj, lambda: _line_of_encoded(kind, encoded))
        return _line(kind, rendered)

    return encode


def _initial_lines(
    resource: ResourceType,
    initial: list[Delivery],
    encode: Callable[[Delivery], bytes],
    initial_end: int | None,
) -> Iterator[bytes]:
    """The initial (or replayed) events one by one, then the WatchList bookmark at ``initial_end``."""
    for delivery in initial:
        yield encode(delivery)
    if initial_end is not None:
        yield _bookmark(resource, initial_end, initial_end=True)


def _drain(
    queue: asyncio.Queue[Delivery | None],
    encode: Callable[[Delivery], bytes],
    first: Delivery,
) -> tuple[bytes, bool, bool]:
    """``first`` and the events queued behind it as one chunk; whether the hub closed and the timer fired."""
    lines = [encode(first)]
    woken = False
    while not queue.empty():
        queued = queue.get_nowait()
        if queued is None:
            return b"".join(lines), True, woken
        if queued is _WAKE:
            woken = True
            continue
        lines.append(encode(queued))
    return b"".join(lines), False, woken


class _WatchClock:
    """The timeout and idle-bookmark schedule of one watch, kept by a single loop timer.

    One timer per watch, re-armed only when it fires: a timeout around every wait would cost a timer
    per event and watcher, most of the fan-out cost with many watchers.
    """

    def __init__(self, request: WatchRequest, wake: Callable[[Delivery], None]) -> None:
        self._timeout = request.timeout_seconds
        self._bookmark_interval = request.bookmark_interval if request.allow_bookmarks else None
        self._wake = wake
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self.deadline = 0.0
        self.idle_since = 0.0

    def start(self) -> None:
        """Start counting once the initial events are out."""
        self.deadline = time.monotonic() + self._timeout
        self.idle_since = time.monotonic()
        self.arm()

    def arm(self) -> None:
        interval = self._bookmark_interval
        due = min(self.deadline, self.idle_since + interval) if interval is not None else self.deadline
        self._timer = self._loop.call_later(max(0.0, due - time.monotonic()), self._wake, _WAKE)

    def bookmark_due(self, now: float) -> bool:
        interval = self._bookmark_interval
        return interval is not None and now - self.idle_since >= interval

    def chunk_sent(self, woken: bool) -> bool:
        """Note that events went out; True when the watch's time is up."""
        self.idle_since = time.monotonic()
        if self.idle_since >= self.deadline:
            return True
        if woken:  # the timer fired while events were queued; the wake-up it sent was consumed
            self.arm()
        return False

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
