"""Finalizers added and removed with JSON patch guarded by a ``test`` on resourceVersion.

The ``test`` makes each write conditional on the state the reconciler read, so two writers cannot lose
each other's finalizers; on a stale read the server answers 409/422 and the reconcile is retried.
"""

from __future__ import annotations

from typing import Any

from infleet.api.resource_kind import ResourceKind
from infleet.kube.cluster_client import ClusterClient


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
    if has_finalizer(obj, finalizer):
        return obj
    metadata = obj["metadata"]
    add: dict[str, Any]
    if metadata.get("finalizers"):
        add = {"op": "add", "path": "/metadata/finalizers/-", "value": finalizer}
    else:
        add = {"op": "add", "path": "/metadata/finalizers", "value": [finalizer]}
    return await client.patch(
        kind, metadata["name"], [_guard(obj), add], metadata.get("namespace"), json_patch=True
    )


async def remove_finalizer(
    client: ClusterClient, kind: ResourceKind, obj: dict[str, Any], finalizer: str
) -> dict[str, Any]:
    """Remove ``finalizer`` if present; returns the object as the server now has it (maybe gone)."""
    finalizers = (obj.get("metadata") or {}).get("finalizers") or []
    if finalizer not in finalizers:
        return obj
    metadata = obj["metadata"]
    remove = {"op": "remove", "path": f"/metadata/finalizers/{finalizers.index(finalizer)}"}
    return await client.patch(
        kind, metadata["name"], [_guard(obj), remove], metadata.get("namespace"), json_patch=True
    )
