"""Rules every write follows before it reaches admission: body shape, deletion-time finalizers and
no-op detection. Pure functions over plain dicts, called by ``cluster``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from infleet.apiserver.errors import Cause, bad_request, invalid
from infleet.apiserver.resources import ResourceType


def deep_copy(obj: dict[str, Any]) -> dict[str, Any]:
    """A private mutable copy of a stored object (orjson round-trip beats copy.deepcopy)."""
    copied: dict[str, Any] = orjson.loads(orjson.dumps(obj))
    return copied


@dataclass(frozen=True)
class WriteOptions:
    field_manager: str = ""
    field_validation: str = "Warn"
    dry_run: bool = False
    # True for server-side apply, whose managedFields the applier already computed.
    applied: bool = False


@dataclass
class WriteResult:
    obj: dict[str, Any]
    created: bool = False
    warnings: list[str] = field(default_factory=list)


def checked_body(resource: ResourceType, body: Any, namespace: str, url_name: str | None) -> dict[str, Any]:
    """``body`` checked as the object of a write to ``resource`` and placed in ``namespace``."""
    if not isinstance(body, dict):
        raise bad_request(f"{resource.kind}: the request body must be a JSON or YAML object")
    _check_type_meta(resource, body)
    metadata = body.get("metadata")
    if metadata is None:
        metadata = body["metadata"] = {}
    if not isinstance(metadata, dict):
        raise bad_request(f"{resource.kind}: metadata must be an object")
    for field_name in ("name", "namespace", "generateName", "resourceVersion", "uid"):
        if metadata.get(field_name) is not None and not isinstance(metadata[field_name], str):
            raise bad_request(f"{resource.kind}: metadata.{field_name} must be a string")
    _place(resource, metadata, namespace)
    if url_name is not None:
        metadata.setdefault("name", url_name)
        if metadata["name"] != url_name:
            raise bad_request(
                f"the name of the object ({metadata.get('name')}) does not match the name on the URL "
                f"({url_name})"
            )
    return body


def _check_type_meta(resource: ResourceType, body: dict[str, Any]) -> None:
    """kind and apiVersion must be the resource's, as kube-apiserver decodes them.

    A built-in kind missing either takes it from the URL (kube-apiserver decodes built-in kinds into
    typed objects with the URL's kind as the default); a custom resource must carry both.
    """
    for field_name, wanted in (("kind", resource.kind), ("apiVersion", resource.api_version)):
        value = body.get(field_name)
        if (value is None or value == "") and resource.builtin:
            body[field_name] = wanted
            continue
        if value is None or value == "":
            raise bad_request(
                f"{resource.kind}: {field_name} is required: set {field_name}: {wanted!r}",
                causes=[Cause("FieldValueRequired", "Required value", field_name)],
            )
        if not isinstance(value, str):
            raise bad_request(f"{resource.kind}: {field_name} must be a string, e.g. {wanted!r}")
    kind = body["kind"]
    if kind != resource.kind:
        raise bad_request(
            f'the object kind "{kind}" does not match the resource {resource.plural} (kind "{resource.kind}")'
        )
    api_version = body["apiVersion"]
    if api_version != resource.api_version:
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version "
            f'({resource.api_version}) of {resource.storage_key}: use apiVersion "{resource.api_version}"'
        )


def _place(resource: ResourceType, metadata: dict[str, Any], namespace: str) -> None:
    if not resource.namespaced:
        metadata.pop("namespace", None)
        return
    body_ns = metadata.get("namespace")
    if body_ns and body_ns != namespace:
        raise bad_request(
            f"the namespace of the provided object ({body_ns}) does not match the namespace sent "
            f"on the request ({namespace})"
        )
    metadata["namespace"] = namespace


def unchanged(current: dict[str, Any], new: dict[str, Any]) -> bool:
    """True when an update would change nothing, field ownership included."""

    def strip(obj: dict[str, Any]) -> dict[str, Any]:
        metadata = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
        return {**obj, "metadata": metadata}

    return strip(current) == strip(new)


def check_deleting_finalizers(resource: ResourceType, current: dict[str, Any], new: dict[str, Any]) -> None:
    """While an object is being deleted, finalizers may only be removed (kube-apiserver rule)."""
    if not current["metadata"].get("deletionTimestamp"):
        return
    before = set(current["metadata"].get("finalizers") or [])
    added = [f for f in new["metadata"].get("finalizers") or [] if f not in before]
    if added:
        raise invalid(
            resource.kind,
            current["metadata"]["name"],
            [
                Cause(
                    "FieldValueForbidden",
                    "no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {added}",
                    "metadata.finalizers",
                )
            ],
            group=resource.group,
        )
