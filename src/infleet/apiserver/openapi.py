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
_SCALE = "io.k8s.api.autoscaling.v1.Scale"
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


def _query(name: str, schema_type: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": {"type": schema_type}}


def _path_parameter(name: str, description: str, **schema: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", **schema},
    }


_WRITE_PARAMETERS = [
    _query("dryRun", "string", "All: validate and admit the request without persisting it"),
    _query("fieldManager", "string", "the name of the actor making the change"),
    _query(
        "fieldValidation", "string", "Strict, Warn or Ignore: what to do with unknown or duplicate fields"
    ),
]
_LIST_PARAMETERS = [
    _query("labelSelector", "string", "restrict the list by label, e.g. app=web,tier!=db"),
    _query("fieldSelector", "string", "restrict the list by field, e.g. metadata.name=web"),
    _query("limit", "integer", "return at most this many items and a continue token"),
    _query("continue", "string", "the continue token of the previous page"),
    _query("resourceVersion", "string", "the resource version to list or watch from"),
    _query("watch", "boolean", "stream changes instead of listing"),
    _query("timeoutSeconds", "integer", "end a watch after this many seconds"),
]
_DELETE_PARAMETERS = [
    _query("dryRun", "string", "All: validate the request without deleting"),
    _query("gracePeriodSeconds", "integer", "seconds before the object is deleted"),
    _query("propagationPolicy", "string", "Orphan, Background or Foreground"),
]
_VERBS = {
    "list": "list",
    "post": "create",
    "get": "read",
    "put": "replace",
    "patch": "patch",
    "delete": "delete",
}


def _response(description: str, ref: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def _operation(resource: ResourceType, action: str, schema_ref: str, suffix: str = "") -> dict[str, Any]:
    """One operation, named as kube-apiserver names it (``listCoreV1NamespacedConfigMap``)."""
    group = "".join(part.capitalize() for part in (resource.group or "core").split(".")[:1])
    scope = "Namespaced" if resource.namespaced else ""
    params = {"list": _LIST_PARAMETERS, "delete": _DELETE_PARAMETERS}.get(action, [])
    if action in ("post", "put", "patch"):
        params = list(_WRITE_PARAMETERS)
        if action == "patch":
            params.append(_query("force", "boolean", "take over the fields of other managers (apply only)"))
    ok = _response("OK", f"{schema_ref}List" if action == "list" else schema_ref)
    responses: dict[str, Any] = {"200": ok, "default": _response("Status", f"#/components/schemas/{_STATUS}")}
    if action in ("post", "put", "patch"):
        responses["201"] = _response("Created", schema_ref)
    name = f"{group}{resource.version.capitalize()}{scope}{resource.kind}{suffix}"
    operation: dict[str, Any] = {
        "operationId": f"{_VERBS[action]}{name}",
        "tags": [resource.group or "core"],
        "parameters": params,
        "responses": responses,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": resource.group,
            "version": resource.version,
            "kind": resource.kind,
        },
    }
    if action in ("post", "put", "patch"):
        # kubectl builds a strategic merge patch exactly when the PATCH operation accepts one.
        patch_media = (
            _PATCH_MEDIA if resource.builtin else tuple(m for m in _PATCH_MEDIA if "strategic" not in m)
        )
        media = patch_media if action == "patch" else ("application/json", "application/yaml")
        body_schema = {"type": "object"} if action == "patch" else {"$ref": schema_ref}
        operation["requestBody"] = {"content": {m: {"schema": body_schema} for m in media}, "required": True}
    return operation


def _paths(resource: ResourceType, schema_ref: str, scale_ref: str | None) -> dict[str, Any]:
    """The collection, object and subresource paths of ``resource``, with their path parameters."""
    prefix = f"/{gv_path(resource.group, resource.version)}"
    scope = "/namespaces/{namespace}" if resource.namespaced else ""
    collection = f"{prefix}{scope}/{resource.plural}"
    item = f"{collection}/{{name}}"
    namespace = (
        [_path_parameter("namespace", "object name and auth scope", example="default")]
        if resource.namespaced
        else []
    )
    named = [_path_parameter("name", f"name of the {resource.kind}"), *namespace]
    paths = {
        collection: {
            "parameters": namespace,
            "get": _operation(resource, "list", schema_ref),
            "post": _operation(resource, "post", schema_ref),
        },
        item: {
            "parameters": named,
            **{
                action: _operation(resource, action, schema_ref)
                for action in ("get", "put", "patch", "delete")
            },
        },
    }
    if resource.has_status:
        paths[f"{item}/status"] = {
            "parameters": named,
            **{
                action: _operation(resource, action, schema_ref, "Status")
                for action in ("get", "put", "patch")
            },
        }
    if scale_ref is not None and resource.scale is not None:
        paths[f"{item}/scale"] = {
            "parameters": named,
            **{
                action: _operation(resource, action, scale_ref, "Scale") for action in ("get", "put", "patch")
            },
        }
    return paths


def _list_schema(resource: ResourceType, item_ref: str) -> dict[str, Any]:
    return {
        "description": f"a list of {resource.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"},
            "items": {"type": "array", "items": {"$ref": item_ref}},
        },
        "x-kubernetes-group-version-kind": [
            {"group": resource.group, "kind": f"{resource.kind}List", "version": resource.version}
        ],
    }


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
            ref = f"#/components/schemas/{name}"
            roots[name] = library[name] if resource.builtin and name in library else _custom_schema(resource)
            roots[f"{name}List"] = library.get(f"{name}List") or _list_schema(resource, ref)
            paths.update(_paths(resource, ref, f"#/components/schemas/{_SCALE}"))
        if paths:
            roots.setdefault(_STATUS, library.get(_STATUS, {"type": "object"}))
            roots.setdefault(_SCALE, library.get(_SCALE, {"type": "object"}))
        document = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.32.4-infleet"},
            "paths": paths,
            "components": {"schemas": _closure(roots, library)},
        }
        encoded = orjson.dumps(document)
        self._documents[path] = encoded
        return encoded
