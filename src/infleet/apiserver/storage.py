"""Durable object storage for one logical cluster: an in-memory index written through to SQLite.

Reads are served from memory. Writes are grouped: every write that arrives while a commit is running
joins the next transaction, so throughput grows with concurrency while each caller still returns only
after its change is on disk (WAL, ``synchronous=FULL``). The resourceVersion counter is persisted in the
same transaction as the objects, so it never goes backwards across restarts.

Each stored revision keeps its JSON encoding next to it (:class:`StoredObject`), made once when it is
written: lists and watches send those bytes instead of encoding every object again, like the
serialization cache of kube-apiserver. The two are replaced together on every write, and stored objects
are never mutated, so the bytes are always those of the revision served.

Atomic per request: an object is encoded before it touches memory, so one that cannot be stored fails
its own write and nothing else. Should a batch still fail to commit, its changes are retried one per
transaction; a change that fails then is undone in memory, and every write to the same object that was
built on it fails too (also one whose caller has not asked to persist it yet: each change carries the
object's undo count at the time it was made), so memory always holds exactly what the disk holds.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from infleet.apiserver.private_files import private_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    resource TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (resource, namespace, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

ObjectKey = tuple[str, str]  # (namespace, name); namespace is "" for cluster-scoped objects

# Re-encode every cached encoding when it is read and fail loudly if it differs: a guard for tests
# (``INFLEET_APISERVER_CHECK_ENCODINGS=1``) against code that mutates a stored object in place.
CHECK_ENCODINGS = os.environ.get("INFLEET_APISERVER_CHECK_ENCODINGS") == "1"


class StaleEncodingError(AssertionError):
    """A stored object no longer matches the encoding made when it was written."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One stored revision and its JSON encoding (``orjson.dumps(obj)``), made together."""

    obj: dict[str, Any]
    data: bytes


class Window(NamedTuple):
    """A run of stored objects in key order, their encodings, and how many objects follow the run."""

    objects: list[dict[str, Any]]
    encodings: list[bytes]
    remaining: int


def checked_encoding(obj: dict[str, Any], data: bytes) -> bytes:
    """``data``, the cached encoding of ``obj``; verified against ``obj`` when checks are on."""
    if CHECK_ENCODINGS and orjson.dumps(obj) != data:
        metadata = obj.get("metadata") or {}
        raise StaleEncodingError(
            f"{obj.get('kind')} {metadata.get('namespace', '')}/{metadata.get('name')} at resourceVersion "
            f"{metadata.get('resourceVersion')} was changed after it was stored"
        )
    return data


@dataclass(frozen=True)
class Change:
    """One committed write: ``obj`` is None for a deletion."""

    resource: str
    namespace: str
    name: str
    resource_version: int
    obj: dict[str, Any] | None
    previous: dict[str, Any] | None
    data: bytes | None = None  # ``obj`` encoded, as written to disk
    undos: int = 0  # how often a failed commit had undone this object when the change was made

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.resource, self.namespace, self.name)


class UnstorableObjectError(ValueError):
    """The object cannot be encoded for storage (the caller answers 4xx; nothing was changed)."""


# As large as a request body may be: an object that patches grew past it could be read but never
# written back whole.
MAX_OBJECT_BYTES = 3 * 1024 * 1024


# orjson returns its output in a buffer that keeps about 4 KiB however short the JSON is: an encoding
# kept as long as its revision is stored is copied to its own size (a fraction of a microsecond) unless it
# is big enough for the slack not to matter.
_COMPACT_BELOW = 64 * 1024


def _compact(data: bytes) -> bytes:
    return bytes(memoryview(data)) if len(data) < _COMPACT_BELOW else data


def encode(obj: dict[str, Any]) -> bytes:
    try:
        data = orjson.dumps(obj)
    except (TypeError, orjson.JSONEncodeError) as error:
        raise UnstorableObjectError(f"the object cannot be stored: {error}") from None
    if len(data) > MAX_OBJECT_BYTES:
        raise UnstorableObjectError(
            f"the object is {len(data)} bytes; an object may take at most {MAX_OBJECT_BYTES} bytes"
        )
    return _compact(data)


class ObjectStore:
    """All objects of one cluster, keyed by storage key (``plural.group``), namespace and name.

    Stored dicts are shared with readers and must never be mutated: writers build a new dict.
    """

    def __init__(self, path: Path | None, on_commit: Callable[[list[Change]], None]) -> None:
        self._path = path
        self._on_commit = on_commit
        self._objects: dict[str, dict[ObjectKey, StoredObject]] = {}
        self._sorted_keys: dict[str, list[ObjectKey]] = {}
        # Objects and encodings in key order, kept until the resource is next written: a list or a
        # page of one is then a slice of each.
        self._sorted_values: dict[str, tuple[list[dict[str, Any]], list[bytes]]] = {}
        # How many objects of each resource are stored under each apiVersion.
        self._api_versions: dict[str, Counter[str]] = {}
        self._resource_version = 0
        self._db: sqlite3.Connection | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._pending: list[tuple[Change, asyncio.Future[None]]] = []
        self._flushing = False
        # Per object: how many of its changes failed to commit and were undone, and the last error.
        self._undone: dict[tuple[str, str, str], tuple[int, Exception]] = {}

    @property
    def resource_version(self) -> int:
        return self._resource_version

    def open(self) -> None:
        """Load every object and the counter from disk (or start empty without a path)."""
        if self._path is None:
            return
        # Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database's mode.
        private_file(self._path)
        for sidecar in ("-wal", "-shm"):
            existing = self._path.with_name(self._path.name + sidecar)
            if existing.exists():
                private_file(existing)
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        for resource, namespace, name, data in db.execute(
            "SELECT resource, namespace, name, data FROM objects"
        ):
            obj = orjson.loads(data)
            # Encoded again rather than kept as read: responses are then byte for byte what this
            # version writes, whatever wrote the row.
            self._put(resource, (namespace, name), StoredObject(obj, _compact(orjson.dumps(obj))))
        row = db.execute("SELECT value FROM counters WHERE name = 'resourceVersion'").fetchone()
        self._resource_version = int(row[0]) if row else 0
        self._db = db

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        if self._db is not None:
            self._db.close()
            self._db = None

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        stored = self._objects.get(resource, {}).get((namespace, name))
        return None if stored is None else stored.obj

    def stored(self, resource: str, namespace: str, name: str) -> StoredObject | None:
        """The current revision of an object with its encoding."""
        return self._objects.get(resource, {}).get((namespace, name))

    def items(
        self, resource: str, namespace: str | None = None, after: ObjectKey | None = None
    ) -> Iterator[dict[str, Any]]:
        """Objects of a resource in (namespace, name) order, optionally in one namespace and after a key."""
        for stored in self.stored_items(resource, namespace, after):
            yield stored.obj

    def stored_items(
        self, resource: str, namespace: str | None = None, after: ObjectKey | None = None
    ) -> Iterator[StoredObject]:
        """Like :meth:`items`, each object with its encoding."""
        bucket = self._objects.get(resource, {})
        keys = self._sorted_keys_of(resource)
        start, end = self._span(keys, namespace, after)
        for index in range(start, end):
            yield bucket[keys[index]]

    def window(self, resource: str, namespace: str | None, after: ObjectKey | None, limit: int) -> Window:
        """The first ``limit`` (0: all) objects :meth:`items` would yield, and how many follow."""
        keys = self._sorted_keys_of(resource)
        start, end = self._span(keys, namespace, after)
        stop = min(end, start + limit) if limit else end
        values = self._sorted_values.get(resource)
        if values is None:
            bucket = self._objects.get(resource, {})
            ordered = [bucket[key] for key in keys]
            values = [stored.obj for stored in ordered], [stored.data for stored in ordered]
            self._sorted_values[resource] = values
        return Window(values[0][start:stop], values[1][start:stop], max(0, end - stop))

    def api_versions(self, resource: str) -> set[str]:
        """The apiVersions the objects of a resource are stored under."""
        return {version for version, count in self._api_versions.get(resource, {}).items() if count > 0}

    def _sorted_keys_of(self, resource: str) -> list[ObjectKey]:
        keys = self._sorted_keys.get(resource)
        if keys is None:
            # Kept until a key is added or removed: paginated lists of a big namespace then cost a
            # bisection per page instead of a sort and a scan from the start.
            keys = self._sorted_keys[resource] = sorted(self._objects.get(resource, {}))
        return keys

    @staticmethod
    def _span(keys: list[ObjectKey], namespace: str | None, after: ObjectKey | None) -> tuple[int, int]:
        start, end = 0, len(keys)
        if namespace is not None:
            start, end = bisect_left(keys, (namespace,)), bisect_left(keys, (namespace + "\0",))
        if after is not None:
            start = max(start, bisect_right(keys, after))
        return start, end

    def resources(self) -> list[str]:
        return [resource for resource, bucket in self._objects.items() if bucket]

    def next_resource_version(self) -> int:
        """Reserve the next resourceVersion; the caller must :meth:`write` with it right away."""
        self._resource_version += 1
        return self._resource_version

    def release_resource_version(self, rv: int) -> None:
        """Give back the version just reserved for a write that was refused, so a refusal leaves the
        store exactly as it was (nothing is awaited between reserving and writing, so it is the last)."""
        if rv == self._resource_version:
            self._resource_version -= 1

    def write(self, resource: str, namespace: str, name: str, obj: dict[str, Any] | None, rv: int) -> Change:
        """Apply a change in memory now; :meth:`persist` makes it durable and announces it.

        Raises :class:`UnstorableObjectError`, with memory untouched, when the object cannot be stored.
        """
        if not isinstance(namespace, str) or not isinstance(name, str) or not name:
            raise UnstorableObjectError(f"namespace and name must be strings, got {namespace!r} and {name!r}")
        data = None if obj is None else encode(obj)
        previous = self.get(resource, namespace, name)
        self._put(
            resource, (namespace, name), None if obj is None or data is None else StoredObject(obj, data)
        )
        undone = self._undone.get((resource, namespace, name))
        undos = undone[0] if undone else 0
        return Change(resource, namespace, name, rv, obj, previous, data, undos)

    def _restore(self, change: Change) -> None:
        """Put the object back as it was before ``change`` (which never reached the disk)."""
        previous = change.previous
        stored = None if previous is None else StoredObject(previous, _compact(orjson.dumps(previous)))
        self._put(change.resource, (change.namespace, change.name), stored)

    def _put(self, resource: str, key: ObjectKey, stored: StoredObject | None) -> None:
        """Store (or with None remove) the object under ``key``, keeping the indexes in step."""
        bucket = self._objects.setdefault(resource, {})
        versions = self._api_versions.setdefault(resource, Counter())
        previous = bucket.pop(key, None)
        if previous is not None:
            versions[str(previous.obj.get("apiVersion", ""))] -= 1
        if stored is not None:
            bucket[key] = stored
            versions[str(stored.obj.get("apiVersion", ""))] += 1
        if (previous is None) != (stored is None):
            self._sorted_keys.pop(resource, None)
        self._sorted_values.pop(resource, None)

    async def persist(self, change: Change) -> None:
        """Return once ``change`` is committed to disk and handed to watchers."""
        stale = self._built_on_undone(change)
        if stale is not None:
            raise stale
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((change, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        await future

    def _built_on_undone(self, change: Change) -> Exception | None:
        """The error that undid a change ``change`` was built on, if one was undone since it was made."""
        undone = self._undone.get(change.key)
        if undone is not None and undone[0] != change.undos:
            return undone[1]
        return None

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._flush_batch(batch)
        finally:
            self._flushing = False

    async def _flush_batch(self, batch: list[tuple[Change, asyncio.Future[None]]]) -> None:
        kept = []
        for change, future in batch:
            stale = self._built_on_undone(change)
            if stale is None:
                kept.append((change, future))
            else:
                _settle(future, stale)
        if not kept:
            return
        changes = [change for change, _ in kept]
        try:
            await self._run_commit(changes)
        except Exception:  # retried one by one below, so one change cannot fail another
            await self._flush_one_by_one(kept)
            return
        self._on_commit(changes)
        for _, future in kept:
            _settle(future, None)

    async def _flush_one_by_one(self, batch: list[tuple[Change, asyncio.Future[None]]]) -> None:
        for change, future in batch:
            error = self._built_on_undone(change)
            if error is None:
                try:
                    await self._run_commit([change])
                    self._on_commit([change])
                except Exception as exc:
                    error = exc
                    # Before anything else runs: memory back to what the disk holds for this object;
                    # every change made on top of the failed one now fails with it.
                    self._restore(change)
                    undos = self._undone.get(change.key, (0, exc))[0]
                    self._undone[change.key] = (undos + 1, exc)
            _settle(future, error)

    async def _run_commit(self, changes: list[Change]) -> None:
        if self._db is not None:
            await asyncio.get_running_loop().run_in_executor(self._writer, self._commit, changes)

    def _commit(self, changes: list[Change]) -> None:
        db = self._db
        assert db is not None
        db.execute("BEGIN IMMEDIATE")
        try:
            for change in changes:
                if change.obj is None:
                    db.execute(
                        "DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?",
                        (change.resource, change.namespace, change.name),
                    )
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO objects (resource, namespace, name, data) "
                        "VALUES (?, ?, ?, ?)",
                        (change.resource, change.namespace, change.name, change.data or encode(change.obj)),
                    )
            db.execute(
                "INSERT OR REPLACE INTO counters (name, value) VALUES ('resourceVersion', ?)",
                (max(change.resource_version for change in changes),),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # the caller went away; the outcome stands regardless
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
