"""The informer's in-memory cache of one kind in one cluster, with indexes.

Objects are kept as the API returned them (dicts), keyed ``namespace/name`` (``name`` for cluster-scoped
kinds). Indexes answer the questions controllers ask on every reconcile without a round trip: objects in
a namespace, objects carrying a label value, objects owned by a uid, and named indexes of one's own.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def object_key(obj: Mapping[str, Any]) -> str:
    """``namespace/name``, or ``name`` for cluster-scoped objects."""
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace")
    return f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"])


def _owner_uids(obj: Mapping[str, Any]) -> list[str]:
    return [
        str(ref["uid"]) for ref in (obj.get("metadata") or {}).get("ownerReferences") or [] if "uid" in ref
    ]


IndexFunc = Callable[[Mapping[str, Any]], Iterable[str]]


class Store:
    """Objects by key plus indexes by namespace, by ``label=value``, by owner uid and by any named
    function of an object (client-go's Indexers: ``add_index`` once, then ``by_index``)."""

    def __init__(self) -> None:
        self._objects: dict[str, dict[str, Any]] = {}
        self._by_namespace: dict[str, set[str]] = {}
        self._by_label: dict[str, set[str]] = {}
        self._by_owner: dict[str, set[str]] = {}
        self._custom: dict[str, tuple[IndexFunc, dict[str, set[str]]]] = {}

    def add_index(self, name: str, func: IndexFunc) -> None:
        """Index every object, present and future, under the values ``func`` returns for it. A name
        already added keeps its first function: controllers sharing an informer may each ask."""
        if name in self._custom:
            return
        index: dict[str, set[str]] = {}
        self._custom[name] = (func, index)
        for key, obj in self._objects.items():
            for value in func(obj):
                index.setdefault(value, set()).add(key)

    def by_index(self, name: str, value: str) -> builtins.list[dict[str, Any]]:
        return self._resolve(self._custom[name][1].get(value, set()))

    def __len__(self) -> int:
        return len(self._objects)

    def __contains__(self, key: object) -> bool:
        return key in self._objects

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self._objects.get(f"{namespace}/{name}" if namespace else name)

    def get_by_key(self, key: str) -> dict[str, Any] | None:
        return self._objects.get(key)

    def keys(self) -> list[str]:
        return list(self._objects)

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        if namespace is None:
            return list(self._objects.values())
        return self._resolve(self._by_namespace.get(namespace, set()))

    def by_label(self, label: str, value: str) -> builtins.list[dict[str, Any]]:
        return self._resolve(self._by_label.get(f"{label}={value}", set()))

    def owned_by(self, owner_uid: str) -> builtins.list[dict[str, Any]]:
        return self._resolve(self._by_owner.get(owner_uid, set()))

    def _resolve(self, keys: Iterable[str]) -> builtins.list[dict[str, Any]]:
        return [self._objects[key] for key in sorted(keys)]

    def upsert(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """Store ``obj``; returns the object it replaced, if any."""
        key = object_key(obj)
        old = self._objects.get(key)
        if old is not None:
            self._unindex(key, old)
        self._objects[key] = obj
        self._index(key, obj)
        return old

    def delete(self, key: str) -> dict[str, Any] | None:
        old = self._objects.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def replace(self, objects: Iterable[dict[str, Any]]) -> None:
        """Swap the whole content (after a relist)."""
        self._objects.clear()
        self._by_namespace.clear()
        self._by_label.clear()
        self._by_owner.clear()
        for _, index in self._custom.values():
            index.clear()
        for obj in objects:
            self.upsert(obj)

    def _entries(self, obj: Mapping[str, Any]) -> Iterable[tuple[dict[str, set[str]], str]]:
        metadata = obj.get("metadata") or {}
        if metadata.get("namespace"):
            yield self._by_namespace, str(metadata["namespace"])
        for label, value in (metadata.get("labels") or {}).items():
            yield self._by_label, f"{label}={value}"
        for uid in _owner_uids(obj):
            yield self._by_owner, uid
        for func, index in self._custom.values():
            for value in func(obj):
                yield index, value

    def _index(self, key: str, obj: Mapping[str, Any]) -> None:
        for index, value in self._entries(obj):
            index.setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: Mapping[str, Any]) -> None:
        for index, value in self._entries(obj):
            members = index.get(value)
            if members is not None:
                members.discard(key)
                if not members:
                    del index[value]
