"""OpenAPI v3 documents: the root index and one document per group-version.

kubectl needs them to validate server-side (``fieldValidation`` on the PATCH operation) and for
``kubectl explain``. Built-in schemas come from ``kubernetes-validate``; a CRD's schema is its
``openAPIV3Schema`` plus ``apiVersion``, ``kind`` and a reference to ObjectMeta. Documents are built
lazily and cached until the set of resources changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from infleet.apiserver.builtin_schemas import BuiltinSchemas
from infleet.apiserver.resources import ResourceIndex, ResourceType

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
_PATCH_MEDIA = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


def gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def schema_name(resource: ResourceType) -> str:
    if resource.builtin:
        name = BuiltinSchemas.load().definition_name(resource.group, resource.version, resource.kind)
        if name:
            return name
    reversed_group = ".".join(reversed(resource.group.split("."))) if resource.group else "io.k8s.api.core"
    return f"{reversed_group}.{resource.version}.{resource.kind}"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            yield ref.rsplit("/", 1)[1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _closure(roots: dict[str, Any], library: Mapping[str, Any]) -> dict[str, Any]:
    """``roots`` plus every library schema they reference, transitively."""
    schemas = dict(roots)
    pending = [name for schema in roots.values() for name in _refs(schema)]
    while pending:
        name = pending.pop()
        if name in schemas or name not in library:
            continue
        schemas[name] = library[name]
        pending.extend(_refs(library[name]))
    return schemas


def _custom_schema(resource: ResourceType) -> dict[str, Any]:
    schema: dict[str, Any] = dict(
        resource.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    )
    properties = dict(schema.get("properties") or {})
    properties["apiVersion"] = {"type": "string", "description": "APIVersion of this object"}
    properties["kind"] = {"type": "string", "description": "Kind of this object"}
    properties["metadata"] = {"allOf": [{"$ref": f"#/components/schemas/{_OBJECT_META}"}]}
    schema["properties"] = properties
    schema.setdefault("type", "object")
    schema["x-kubernetes-group-version-kind"] = [
        {"group": resource.group, "kind": resource.kind, "version": resource.version}
    ]
    return schema


def _operation(resource: ResourceType, action: str, schema_ref: str, with_body: bool) -> dict[str, Any]:
    params: list[dict[str, Any]] = []
    if action in ("post", "put", "patch"):
        params = [
            {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
        ]
        if action == "patch":
            params.append(
                {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": True}}
            )
    operation: dict[str, Any] = {
        "operationId": f"{action}{resource.kind}",
        "tags": [resource.group or "core"],
        "parameters": params,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": schema_ref}}}},
            "201": {
                "description": "Created",
                "content": {"application/json": {"schema": {"$ref": schema_ref}}},
            },
        },
        "x-kubernetes-action": action if action != "put" else "put",
        "x-kubernetes-group-version-kind": {
            "group": resource.group,
            "version": resource.version,
            "kind": resource.kind,
        },
    }
    if with_body:
        # kubectl builds a strategic merge patch exactly when the PATCH operation accepts one.
        patch_media = (
            _PATCH_MEDIA if resource.builtin else tuple(m for m in _PATCH_MEDIA if "strategic" not in m)
        )
        media = patch_media if action == "patch" else ("application/json", "application/yaml")
        body_schema = {"type": "object"} if action == "patch" else {"$ref": schema_ref}
        operation["requestBody"] = {"content": {m: {"schema": body_schema} for m in media}, "required": True}
    return operation


def _paths(resource: ResourceType, schema_ref: str) -> dict[str, Any]:
    prefix = f"/{gv_path(resource.group, resource.version)}"
    scope = "/namespaces/{namespace}" if resource.namespaced else ""
    collection = f"{prefix}{scope}/{resource.plural}"
    item = f"{collection}/{{name}}"
    paths = {
        collection: {
            "get": _operation(resource, "list", schema_ref, with_body=False),
            "post": _operation(resource, "post", schema_ref, with_body=True),
        },
        item: {
            "get": _operation(resource, "get", schema_ref, with_body=False),
            "put": _operation(resource, "put", schema_ref, with_body=True),
            "patch": _operation(resource, "patch", schema_ref, with_body=True),
            "delete": _operation(resource, "delete", schema_ref, with_body=False),
        },
    }
    if resource.has_status:
        paths[f"{item}/status"] = {
            "get": _operation(resource, "get", schema_ref, with_body=False),
            "put": _operation(resource, "put", schema_ref, with_body=True),
            "patch": _operation(resource, "patch", schema_ref, with_body=True),
        }
    return paths


class OpenAPIDocuments:
    """Caches the v3 documents of one cluster; :meth:`invalidate` when resources change."""

    def __init__(self, index: ResourceIndex) -> None:
        self._index = index
        self._documents: dict[str, bytes] = {}
        self._hashes: dict[str, str] = {}

    def invalidate(self) -> None:
        self._documents.clear()
        self._hashes.clear()

    def group_versions(self) -> list[tuple[str, str]]:
        return sorted({(r.group, r.version) for r in self._index.all()})

    def root(self) -> dict[str, Any]:
        paths = {}
        for group, version in self.group_versions():
            path = gv_path(group, version)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={self.hash(group, version)}"}
        return {"paths": paths}

    def hash(self, group: str, version: str) -> str:
        path = gv_path(group, version)
        if path not in self._hashes:
            self._hashes[path] = hashlib.sha512(self.document(group, version)).hexdigest()[:64].upper()
        return self._hashes[path]

    def document(self, group: str, version: str) -> bytes:
        """The encoded document of a group-version (empty paths when it is not served)."""
        path = gv_path(group, version)
        cached = self._documents.get(path)
        if cached is not None:
            return cached
        library = BuiltinSchemas.load().openapi_components()
        roots: dict[str, Any] = {}
        paths: dict[str, Any] = {}
        for resource in self._index.all():
            if resource.group != group or resource.version != version:
                continue
            name = schema_name(resource)
            roots[name] = library[name] if resource.builtin and name in library else _custom_schema(resource)
            paths.update(_paths(resource, f"#/components/schemas/{name}"))
        if paths:
            roots.setdefault(_STATUS, library.get(_STATUS, {"type": "object"}))
        document = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.32.4-infleet"},
            "paths": paths,
            "components": {"schemas": _closure(roots, library)},
        }
        encoded = orjson.dumps(document)
        self._documents[path] = encoded
        return encoded
