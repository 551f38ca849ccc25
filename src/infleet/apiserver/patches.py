"""PATCH dispatch: turns a request body and its media type into the patched object.

Custom resources get 415 for strategic merge patch, exactly like kube-apiserver, so kubectl reports
the familiar error; built-in kinds get a strategic merge driven by the Kubernetes schema extensions.
"""

from __future__ import annotations

from typing import Any

from infleet.apiserver.body_decoding import Decoded, decode_body
from infleet.apiserver.builtin_schemas import BuiltinSchemas
from infleet.apiserver.errors import bad_request, unsupported_media_type
from infleet.apiserver.json_patch import apply_json_patch
from infleet.apiserver.merge_patch import apply_merge_patch
from infleet.apiserver.resources import ResourceType
from infleet.apiserver.schema_node import SchemaNode
from infleet.apiserver.strategic_merge import apply_strategic_merge_patch

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"

PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)


def patch_type(content_type: str, resource: ResourceType) -> str:
    """The supported patch media type named by a Content-Type header, or a 415."""
    media = content_type.split(";", 1)[0].strip().lower()
    accepted = [t for t in PATCH_TYPES if resource.builtin or t != STRATEGIC_MERGE_PATCH]
    if media not in accepted:
        raise unsupported_media_type(
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{', '.join(accepted)}"
        )
    return media


def decode_patch(media: str, body: bytes) -> Decoded:
    """Parse a patch body; apply patches are YAML (JSON is valid YAML)."""
    media_type = "application/yaml" if media == APPLY_PATCH else "application/json"
    return decode_body(body, media_type, what="the patch")


def schema_for(resource: ResourceType) -> SchemaNode | None:
    if resource.builtin:
        return BuiltinSchemas.load().node(resource.group, resource.version, resource.kind)
    if resource.schema is not None:
        return SchemaNode(resource.schema)
    return None


def apply_patch(resource: ResourceType, media: str, current: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Return ``current`` with a merge, JSON or strategic patch applied (apply patches go elsewhere)."""
    name = str(current.get("metadata", {}).get("name", ""))
    if media == JSON_PATCH:
        return apply_json_patch(current, patch, kind=resource.kind, name=name)
    if not isinstance(patch, dict):
        raise bad_request(f"{resource.kind} {name!r}: a {media} body must be a JSON object")
    if media == MERGE_PATCH:
        patched = apply_merge_patch(current, patch)
        assert isinstance(patched, dict)
        return patched
    return apply_strategic_merge_patch(current, patch, schema_for(resource))
