"""CustomResourceDefinitions generated from pydantic models: one source of truth for every Infleet kind.

Each layer describes its kind with a :class:`CRDInfo` plus pydantic spec and status models, and
:func:`custom_resource_definition` turns them into a CRD dict with a structural ``openAPIV3Schema``
(descriptions, enums, bounds, defaults, required fields, int-or-string, free-form subtrees), the status
and scale subresources, printer columns, short names and categories. pydantic's JSON Schema is the
input; :func:`structural_schema` rewrites it into the OpenAPI v3.0 subset Kubernetes accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from infleet.api.resource_kind import ResourceKind

_KEEP = {
    "type",
    "description",
    "enum",
    "default",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "pattern",
    "uniqueItems",
    "multipleOf",
    "minProperties",
    "maxProperties",
}
_FORMATS = {"date-time", "date", "int32", "int64", "float", "double", "byte", "uri", "email", "duration"}
_PRESERVE = "x-kubernetes-preserve-unknown-fields"


@dataclass(frozen=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry; ``json_path`` is a simple JSONPath such as ``.spec.model``."""

    name: str
    type: Literal["string", "integer", "number", "boolean", "date"]
    json_path: str
    description: str = ""
    priority: int = 0


@dataclass(frozen=True)
class ScaleSubresource:
    """Paths of the scale subresource, so ``kubectl scale``, HPA and KEDA can drive the kind."""

    spec_replicas_path: str = ".spec.replicas"
    status_replicas_path: str = ".status.replicas"
    label_selector_path: str | None = ".status.selector"


@dataclass(frozen=True)
class CRDInfo:
    """Names, scope and presentation of one kind (one served, stored version)."""

    resource: ResourceKind
    #: Versions served with the same schema (KubeFleet serves v1 beside v1beta1); the resource's own
    #: version is the storage version. Empty: only that one.
    served_versions: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    printer_columns: tuple[PrinterColumn, ...] = ()
    scale: ScaleSubresource | None = None
    status_subresource: bool = True
    description: str = ""

    @property
    def group(self) -> str:
        return self.resource.group

    @property
    def version(self) -> str:
        return self.resource.version

    @property
    def kind(self) -> str:
        return self.resource.kind

    @property
    def plural(self) -> str:
        return self.resource.plural

    @property
    def scope(self) -> Literal["Namespaced", "Cluster"]:
        return "Namespaced" if self.resource.namespaced else "Cluster"

    @property
    def name(self) -> str:
        return f"{self.plural}.{self.group}"

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of ``model``, as Kubernetes wants it (JSON names by alias)."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    definitions: dict[str, Any] = raw.get("$defs", {})
    return _convert(raw, definitions, f"{model.__name__}")


def _resolve(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    target = definitions[ref.rsplit("/", 1)[-1]]
    # Field-level keys (description, default) win over the referenced model's own.
    merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return _resolve(merged, definitions)


def _convert(node: dict[str, Any], definitions: dict[str, Any], where: str) -> dict[str, Any]:
    node = _flatten(node, definitions)
    variants = node.get("anyOf") or node.get("oneOf")
    if variants is not None:
        return _convert_union(node, variants, definitions, where)
    out = _keywords(node)
    kind = node.get("type")
    if kind is None and _PRESERVE not in out and "x-kubernetes-int-or-string" not in out:
        out[_PRESERVE] = True  # Any: a free-form value
    if kind == "object":
        _convert_object(node, out, definitions, where)
    elif kind == "array":
        out["items"] = _convert(node.get("items") or {}, definitions, f"{where}[]")
    return _ordered(out)


def _flatten(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """``node`` with its ``$ref`` resolved and a lone ``allOf`` (a reference with field-level keys) merged."""
    node = _resolve(node, definitions)
    if "allOf" in node and len(node["allOf"]) == 1:
        node = {**_resolve(node["allOf"][0], definitions), **{k: v for k, v in node.items() if k != "allOf"}}
    return node


def _keywords(node: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI v3.0 keywords of ``node``; JSON Schema's const and exclusive bounds translated."""
    out: dict[str, Any] = {key: value for key, value in node.items() if key in _KEEP}
    if "const" in node:
        out["enum"] = [node["const"]]
    if node.get("format") in _FORMATS:
        out["format"] = node["format"]
    if "exclusiveMinimum" in node:
        out["minimum"], out["exclusiveMinimum"] = node["exclusiveMinimum"], True
    if "exclusiveMaximum" in node:
        out["maximum"], out["exclusiveMaximum"] = node["exclusiveMaximum"], True
    out.update({key: value for key, value in node.items() if key.startswith("x-kubernetes-")})
    if out.get("default") is None:
        out.pop("default", None)
    return out


def _ordered(out: dict[str, Any]) -> dict[str, Any]:
    """type and description first, so the YAML reads like hand-written CRDs."""
    first: dict[str, Any] = {key: out[key] for key in ("type", "description") if key in out}
    return {**first, **{key: value for key, value in out.items() if key not in first}}


def _convert_object(
    node: dict[str, Any], out: dict[str, Any], definitions: dict[str, Any], where: str
) -> None:
    properties = node.get("properties")
    if properties:
        out["properties"] = {
            name: _convert(prop, definitions, f"{where}.{name}") for name, prop in properties.items()
        }
        if node.get("required"):
            out["required"] = list(node["required"])
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and extra:
        out["additionalProperties"] = _convert(extra, definitions, f"{where}{{}}")
    elif not properties:
        out[_PRESERVE] = True  # dict[str, Any] or a model that allows anything


def _convert_union(
    node: dict[str, Any], variants: list[dict[str, Any]], definitions: dict[str, Any], where: str
) -> dict[str, Any]:
    concrete = [_resolve(v, definitions) for v in variants if v.get("type") != "null"]
    outer = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
    types = {v.get("type") for v in concrete}
    if types == {"integer", "string"}:
        out = {k: v for k, v in outer.items() if k in ("description", "default") and v is not None}
        return {**out, "x-kubernetes-int-or-string": True}
    if len(concrete) == 1:
        return _convert({**concrete[0], **outer}, definitions, where)
    if types == {"string"} and all("enum" in v or "const" in v for v in concrete):
        values = [x for v in concrete for x in (v.get("enum") or [v.get("const")])]
        return _convert({**outer, "type": "string", "enum": values}, definitions, where)
    raise ValueError(
        f"{where}: a union of {sorted(str(t) for t in types)} has no structural schema; "
        "use one type, int | str (int-or-string), or dict[str, Any] for a free-form subtree"
    )


def custom_resource_definition(
    info: CRDInfo, spec: type[BaseModel], status: type[BaseModel] | None = None
) -> dict[str, Any]:
    """The ``apiextensions.k8s.io/v1`` CRD for ``info`` whose spec and status follow the given models."""
    properties: dict[str, Any] = {
        "apiVersion": {"type": "string", "description": "APIVersion of this object."},
        "kind": {"type": "string", "description": "Kind of this object."},
        "spec": structural_schema(spec),
    }
    if status is not None:
        properties["status"] = structural_schema(status)
    root: dict[str, Any] = {"type": "object", "properties": properties, "required": ["spec"]}
    if info.description:
        root["description"] = info.description
    subresources: dict[str, Any] = {}
    if info.status_subresource and status is not None:
        subresources["status"] = {}
    if info.scale is not None:
        scale = {
            "specReplicasPath": info.scale.spec_replicas_path,
            "statusReplicasPath": info.scale.status_replicas_path,
        }
        if info.scale.label_selector_path:
            scale["labelSelectorPath"] = info.scale.label_selector_path
        subresources["scale"] = scale
    versions = [_version(info, name, root, subresources) for name in info.served_versions or (info.version,)]
    names: dict[str, Any] = {
        "plural": info.plural,
        "singular": info.singular,
        "kind": info.kind,
        "listKind": f"{info.kind}List",
    }
    if info.short_names:
        names["shortNames"] = list(info.short_names)
    if info.categories:
        names["categories"] = list(info.categories)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": info.name},
        "spec": {"group": info.group, "scope": info.scope, "names": names, "versions": versions},
    }


def _version(info: CRDInfo, name: str, root: dict[str, Any], subresources: dict[str, Any]) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": name,
        "served": True,
        "storage": name == info.version,
        "schema": {"openAPIV3Schema": root},
    }
    if subresources:
        version["subresources"] = subresources
    if info.printer_columns:
        version["additionalPrinterColumns"] = [_column(c) for c in info.printer_columns]
    return version


def _column(column: PrinterColumn) -> dict[str, Any]:
    out: dict[str, Any] = {"name": column.name, "type": column.type, "jsonPath": column.json_path}
    if column.description:
        out["description"] = column.description
    if column.priority:
        out["priority"] = column.priority
    return out


def to_yaml(crd: dict[str, Any]) -> str:
    """Stable YAML for a CRD (keys in insertion order, no aliases), as committed under ``deploy/crds``."""
    return yaml.dump(crd, Dumper=_NoAliasDumper, sort_keys=False, width=110, allow_unicode=True)


class _NoAliasDumper(yaml.SafeDumper):
    """Writes a value shared by two schema nodes (one enum used twice) out twice instead of as an alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True
