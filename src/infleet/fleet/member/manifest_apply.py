"""Client-side apply of one manifest into the member cluster, as KubeFleet's default strategy does.

Why a three-way JSON merge patch rather than a replace: the member's own controllers and the API server
write fields the hub never set (defaults, status, replicas an autoscaler owns, other annotations); a PUT
would wipe them on every apply. The patch sets every field of the hub's manifest (so drift in a managed
field is overwritten) and removes only fields that an earlier apply set and the manifest no longer has,
read from the ``last-applied-configuration`` annotation. A hash annotation skips writes when the manifest
is unchanged and the member still holds every field it sets.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from infleet.api.labels import LAST_APPLIED_ANNOTATION, MANIFEST_HASH_ANNOTATION
from infleet.api.resource_kind import ResourceKind
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
#: Larger last-applied configurations are not recorded (annotations share a 256 KiB budget); such an
#: object is then applied two-way: fields removed from the manifest stay in the member.
MAX_LAST_APPLIED = 128 * 1024
_SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink")
DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True)
class Applied:
    """The object as the member now has it, and what the apply did (created, updated, unchanged)."""

    obj: dict[str, Any]
    action: str


def prepare(manifest: dict[str, Any], kind: ResourceKind) -> dict[str, Any]:
    """The manifest as it is applied: no status or server-set metadata, the namespace fitting the scope."""
    desired = copy.deepcopy(manifest)
    desired.pop("status", None)
    metadata = desired.setdefault("metadata", {})
    for name in _SERVER_FIELDS:
        metadata.pop(name, None)
    if kind.namespaced:
        metadata["namespace"] = metadata.get("namespace") or DEFAULT_NAMESPACE
    else:
        metadata.pop("namespace", None)
    return desired


def manifest_hash(desired: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(desired, option=orjson.OPT_SORT_KEYS)).hexdigest()


def is_subset(wanted: Any, actual: Any) -> bool:
    """Whether ``actual`` holds every field ``wanted`` sets (lists item by item, same length)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(
            k in actual and is_subset(v, actual[k]) for k, v in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(actual, list)
            and len(wanted) == len(actual)
            and all(is_subset(w, a) for w, a in zip(wanted, actual, strict=True))
        )
    return bool(wanted == actual)


def three_way_patch(last_applied: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch setting all of ``desired`` and deleting what ``last_applied`` set and it dropped."""
    patch: dict[str, Any] = {key: None for key in last_applied if key not in desired}
    for key, value in desired.items():
        before = last_applied.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            patch[key] = three_way_patch(before, value)
        else:
            patch[key] = value
    return patch


def _annotations(obj: dict[str, Any]) -> dict[str, Any]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def _last_applied(current: dict[str, Any]) -> dict[str, Any]:
    text = _annotations(current).get(LAST_APPLIED_ANNOTATION)
    if not text:
        return {}
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}  # edited by hand into something unreadable: apply two-way
    return parsed if isinstance(parsed, dict) else {}


def _owner_references(current: dict[str, Any] | None, owner_ref: dict[str, Any]) -> list[dict[str, Any]]:
    refs = list(((current or {}).get("metadata") or {}).get("ownerReferences") or [])
    if not any(ref.get("uid") == owner_ref["uid"] for ref in refs):
        refs.append(owner_ref)
    return refs


def _stamped(desired: dict[str, Any], digest: str) -> dict[str, str]:
    stamps = {MANIFEST_HASH_ANNOTATION: digest}
    text = orjson.dumps(desired, option=orjson.OPT_SORT_KEYS).decode()
    if len(text) <= MAX_LAST_APPLIED:
        stamps[LAST_APPLIED_ANNOTATION] = text
    return stamps


async def apply_manifest(
    client: ClusterClient, kind: ResourceKind, manifest: dict[str, Any], owner_ref: dict[str, Any]
) -> Applied:
    """Create or update ``manifest`` in the member, owned by ``owner_ref`` (the AppliedWork)."""
    desired = prepare(manifest, kind)
    metadata = desired["metadata"]
    name, namespace = str(metadata.get("name") or ""), metadata.get("namespace")
    if not name:
        raise ValueError("the manifest has no metadata.name: name the object")
    digest = manifest_hash(desired)
    stamps = _stamped(desired, digest)
    current = await _get(client, kind, name, namespace)
    if current is None:
        body = copy.deepcopy(desired)
        body["metadata"]["annotations"] = {**_annotations(desired), **stamps}
        body["metadata"]["ownerReferences"] = _owner_references(None, owner_ref)
        return Applied(await client.create(kind, body, namespace), CREATED)
    owned = any(
        ref.get("uid") == owner_ref["uid"] for ref in current["metadata"].get("ownerReferences") or []
    )
    if (
        owned
        and _annotations(current).get(MANIFEST_HASH_ANNOTATION) == digest
        and is_subset(desired, current)
    ):
        return Applied(current, UNCHANGED)
    last_applied = _last_applied(current)
    patch = three_way_patch(last_applied, desired)
    patch_metadata = patch.setdefault("metadata", {})
    annotations = patch_metadata.get("annotations")
    if not isinstance(annotations, dict):
        # The manifest dropped all its annotations: delete the ones it set, keep the member's own.
        annotations = dict.fromkeys(_annotations(last_applied))
    annotations.update(stamps)
    if LAST_APPLIED_ANNOTATION not in stamps:
        annotations[LAST_APPLIED_ANNOTATION] = None
    patch_metadata["annotations"] = annotations
    patch_metadata["ownerReferences"] = _owner_references(current, owner_ref)
    return Applied(await client.patch(kind, name, patch, namespace), UPDATED)


async def _get(
    client: ClusterClient, kind: ResourceKind, name: str, namespace: str | None
) -> dict[str, Any] | None:
    try:
        return await client.get(kind, name, namespace)
    except KubeAPIError as error:
        if error.not_found:
            return None
        raise
