"""Serving one watch request as a stream of newline-delimited JSON events.

Handles ``resourceVersion`` (unset/0: synthetic ADDED for current objects; N: replay after N; too old:
one ERROR event with a 410 Status), WatchList (``sendInitialEvents`` ending in an annotated BOOKMARK),
periodic bookmarks, ``timeoutSeconds``, and Table-formatted events for ``kubectl get -w``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from infleet.api.labels import INITIAL_EVENTS_END_ANNOTATION
from infleet.apiserver.cluster import Cluster
from infleet.apiserver.errors import Cause, StatusError, invalid
from infleet.apiserver.resources import ResourceType
from infleet.apiserver.selection import Selection, selector_filter

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
_WAKE: tuple[str, dict[str, Any]] = ("WAKE", {})


def _line(kind: str, obj: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": kind, "object": obj}) + b"\n"


def _bookmark(resource: ResourceType, rv: int, initial_end: bool) -> bytes:
    metadata: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        metadata["annotations"] = {INITIAL_EVENTS_END_ANNOTATION: "true"}
    return _line(
        "BOOKMARK", {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": metadata}
    )


async def stream_events(  # noqa: C901
    cluster: Cluster, resource: ResourceType, request: WatchRequest, render: EventRenderer
) -> AsyncIterator[bytes]:
    """Yield the encoded events of one watch until its timeout, the client leaves, or the server stops."""
    selects = selector_filter(resource, request.selection)
    first = True

    def encode(kind: str, obj: dict[str, Any]) -> bytes:
        nonlocal first
        versioned = cluster.as_version(resource, obj)
        rendered = render(versioned, first)
        first = False
        if rendered is obj:  # the stored object as it is: encode once for all watchers
            return cluster.hub.encoded(kind, obj, lambda: _line(kind, obj))
        return _line(kind, rendered)

    try:
        if request.resource_version is None or request.send_initial_events:
            initial = [("ADDED", obj) for obj in cluster.list(resource, request.selection).items]
        else:
            initial = cluster.hub.replay(resource.storage_key, request.resource_version, selects)
    except StatusError as error:
        yield _line("ERROR", error.to_status())
        return
    snapshot_rv = cluster.store.resource_version
    subscriber = cluster.hub.subscribe(resource.storage_key, selects)
    timer: asyncio.TimerHandle | None = None
    try:
        for kind, obj in initial:
            yield encode(kind, obj)
        if request.send_initial_events:
            yield _bookmark(resource, snapshot_rv, initial_end=True)
        deadline = time.monotonic() + request.timeout_seconds
        idle_since = time.monotonic()
        loop = asyncio.get_running_loop()

        def arm() -> asyncio.TimerHandle:
            # One timer per watch, re-armed only when it fires: a timeout around every wait would cost a
            # timer per event and watcher, most of the fan-out cost with many watchers.
            due = (
                min(deadline, idle_since + request.bookmark_interval) if request.allow_bookmarks else deadline
            )
            return loop.call_later(max(0.0, due - time.monotonic()), subscriber.queue.put_nowait, _WAKE)

        timer = arm()
        while True:
            item = await subscriber.queue.get()
            if item is _WAKE:
                now = time.monotonic()
                if now >= deadline:
                    return
                if request.allow_bookmarks and now - idle_since >= request.bookmark_interval:
                    yield _bookmark(resource, cluster.store.resource_version, initial_end=False)
                    idle_since = time.monotonic()
                timer = arm()
                continue
            if item is None:
                return
            # Send what is already queued as one chunk: one socket write per wakeup, not per event.
            lines = [encode(*item)]
            woken = False
            while not subscriber.queue.empty():
                queued = subscriber.queue.get_nowait()
                if queued is None:
                    yield b"".join(lines)
                    return
                if queued is _WAKE:
                    woken = True
                    continue
                lines.append(encode(*queued))
            yield b"".join(lines)
            idle_since = time.monotonic()
            if idle_since >= deadline:
                return
            if woken:
                timer = arm()
    finally:
        if timer is not None:
            timer.cancel()
        cluster.hub.unsubscribe(subscriber)
