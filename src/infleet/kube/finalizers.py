"""Finalizers added and removed with JSON patch guarded by a ``test`` on resourceVersion.

The ``test`` makes each write conditional on the state the reconciler read, so two writers cannot lose
each other's finalizers. Reconcilers read from informer caches, which often trail the server by a write
(a status patch of their own): on such a stale read (409, or 422 from the failed ``test``) the object is
read again and the change retried a few times, instead of failing the whole reconcile.
"""

from __future__ import annotations

from typing import Any

from infleet.api.resource_kind import ResourceKind
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient

_ATTEMPTS = 3


def has_finalizer(obj: dict[str, Any], finalizer: str) -> bool:
    return finalizer in ((obj.get("metadata") or {}).get("finalizers") or [])


def is_being_deleted(obj: dict[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def _guard(obj: dict[str, Any]) -> dict[str, Any]:
    return {"op": "test", "path": "/metadata/resourceVersion", "value": obj["metadata"]["resourceVersion"]}


async def ensure_finalizer(
    client: ClusterClient, kind: ResourceKind, obj: dict[str, Any], finalizer: str
) -> dict[str, Any]:
    """Add ``finalizer`` unless present; returns the object as the server now has it."""
    for attempt in range(_ATTEMPTS):
        if has_finalizer(obj, finalizer):
            return obj
        metadata = obj["metadata"]
        add: dict[str, Any]
        if metadata.get("finalizers"):
            add = {"op": "add", "path": "/metadata/finalizers/-", "value": finalizer}
        else:
            add = {"op": "add", "path": "/metadata/finalizers", "value": [finalizer]}
        try:
            return await client.patch(
                kind, metadata["name"], [_guard(obj), add], metadata.get("namespace"), json_patch=True
            )
        except KubeAPIError as error:
            obj = await _reread_if_stale(client, kind, obj, error, attempt)
    raise AssertionError("unreachable")  # the last attempt returns or raises


async def remove_finalizer(
    client: ClusterClient, kind: ResourceKind, obj: dict[str, Any], finalizer: str
) -> dict[str, Any]:
    """Remove ``finalizer`` if present; returns the object as the server now has it (maybe gone)."""
    for attempt in range(_ATTEMPTS):
        finalizers = (obj.get("metadata") or {}).get("finalizers") or []
        if finalizer not in finalizers:
            return obj
        metadata = obj["metadata"]
        remove = {"op": "remove", "path": f"/metadata/finalizers/{finalizers.index(finalizer)}"}
        try:
            return await client.patch(
                kind, metadata["name"], [_guard(obj), remove], metadata.get("namespace"), json_patch=True
            )
        except KubeAPIError as error:
            if error.not_found:
                return obj
            obj = await _reread_if_stale(client, kind, obj, error, attempt)
    raise AssertionError("unreachable")  # the last attempt returns or raises


async def _reread_if_stale(
    client: ClusterClient, kind: ResourceKind, obj: dict[str, Any], error: KubeAPIError, attempt: int
) -> dict[str, Any]:
    """The object as the server has it now, when ``error`` says the copy was stale; else re-raise."""
    if not (error.conflict or error.invalid) or attempt == _ATTEMPTS - 1:
        raise error
    metadata = obj["metadata"]
    return await client.get(kind, metadata["name"], metadata.get("namespace"))
