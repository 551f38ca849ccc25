"""Schemas of the built-in Kubernetes kinds, from the ``kubernetes-validate`` package (v1.32 folder).

The server calls :meth:`BuiltinSchemas.load` once: it serves :meth:`openapi_components` in its OpenAPI
v3 documents, hands :meth:`node` to strategic merge patch and server-side apply, and runs
:meth:`validate` on writes of built-in kinds (``jsonschema`` against the ``-strict`` twin, so unknown
fields surface as ``additionalProperties`` failures).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any, ClassVar

import jsonschema
from jsonschema.exceptions import ValidationError

from infleet.apiserver.errors import Cause
from infleet.apiserver.schema_node import SchemaNode, ref_name

SCHEMA_FOLDER = "v1.32.0-local"
_COMPONENTS = "#/components/schemas/"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
# Unknown-ness inside these subtrees is the server's business (it writes them), not the client's.
_UNKNOWN_IGNORED = ("metadata.managedFields",)


def _read_definitions(folder: str) -> dict[str, dict[str, Any]]:
    path = resources.files("kubernetes_validate") / "kubernetes-json-schema" / folder / "_definitions.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    defs: dict[str, dict[str, Any]] = document["$defs"]
    return defs


def _to_openapi(schema: Any) -> Any:
    """JSON Schema 2020-12 node -> OpenAPI 3.0 node (refs, nullable types, ``$ref`` with siblings)."""
    if isinstance(schema, list):
        return [_to_openapi(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        _add_openapi_keyword(out, key, value)
    if "$ref" in out and len(out) > 1:
        # OpenAPI 3.0 ignores siblings of $ref; kube-apiserver wraps the ref in allOf instead.
        out["allOf"] = [{"$ref": out.pop("$ref")}]
    return out


def _add_openapi_keyword(out: dict[str, Any], key: str, value: Any) -> None:
    """Write the OpenAPI 3.0 form of one JSON Schema keyword into ``out``."""
    if key == "$ref" and isinstance(value, str):
        out[key] = _COMPONENTS + ref_name(value)
    elif key == "type" and isinstance(value, list):
        real = [t for t in value if t != "null"]
        if real:
            out["type"] = real[0]
        if "null" in value:
            out["nullable"] = True
    elif key in ("properties", "patternProperties", "$defs") and isinstance(value, dict):
        out[key] = {name: _to_openapi(sub) for name, sub in value.items()}
    elif key in ("enum", "required", "x-kubernetes-group-version-kind", "x-kubernetes-list-map-keys"):
        out[key] = value
    else:
        out[key] = _to_openapi(value)


def _field_path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text = f"{text}.{part}" if text else str(part)
    return text


def _render(value: Any) -> str:
    return json.dumps(value)[:80] if not isinstance(value, dict | list) else type(value).__name__


# The integer formats of the Kubernetes schemas; jsonschema checks no format unless told how.
_INTEGER_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_INTEGER_FORMATS = jsonschema.FormatChecker(formats=())
for _format, (_low, _high) in _INTEGER_RANGES.items():
    _INTEGER_FORMATS.checks(_format)(
        lambda value, low=_low, high=_high: not isinstance(value, int) or low <= value <= high
    )


class BuiltinSchemas:
    """Definitions of built-in kinds, indexed by group/version/kind, with cached validators."""

    _instance: ClassVar[BuiltinSchemas | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, definitions: dict[str, dict[str, Any]], strict: dict[str, dict[str, Any]]) -> None:
        self._defs = definitions
        self._strict = strict
        self._gvk: dict[tuple[str, str, str], str] = {}
        for name, schema in definitions.items():
            for gvk in schema.get("x-kubernetes-group-version-kind") or []:
                key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
                # DeleteOptions & co. carry many GVKs; the definition named after the kind wins.
                if key not in self._gvk or name.endswith("." + key[2]):
                    self._gvk[key] = name
        self._nodes: dict[str, SchemaNode] = {}
        self._validators: dict[str, Any] = {}
        self._components: dict[str, Any] | None = None
        self._build_lock = threading.Lock()

    @classmethod
    def load(cls) -> BuiltinSchemas:
        """The process-wide instance, read from the package on first use."""
        if cls._instance is None:
            with cls._lock:
                if cls._instance is None:
                    cls._instance = cls(
                        _read_definitions(SCHEMA_FOLDER), _read_definitions(SCHEMA_FOLDER + "-strict")
                    )
        return cls._instance

    def definition_name(self, group: str, version: str, kind: str) -> str | None:
        meta_kind = group in ("meta", "meta.k8s.io") or (group == "" and kind in ("ObjectMeta", "ListMeta"))
        if meta_kind and (name := _META + kind) in self._defs:
            return name
        found = self._gvk.get((group, version, kind))
        if found is None and (name := _META + kind) in self._defs and version == "v1":
            return name
        return found

    def definition(self, name: str) -> Mapping[str, Any] | None:
        return self._defs.get(name)

    @property
    def definitions(self) -> Mapping[str, Mapping[str, Any]]:
        return self._defs

    def node(self, group: str, version: str, kind: str) -> SchemaNode | None:
        name = self.definition_name(group, version, kind)
        if name is None:
            return None
        if name not in self._nodes:
            self._nodes[name] = SchemaNode(self._defs[name], self._defs)
        return self._nodes[name]

    def openapi_components(self) -> dict[str, Any]:
        """Every definition as an OpenAPI 3.0 schema keyed by name (shared: do not mutate the values)."""
        with self._build_lock:
            if self._components is None:
                components = {name: _to_openapi(schema) for name, schema in self._defs.items()}
                components[_INT_OR_STRING] = {
                    "description": self._defs[_INT_OR_STRING].get("description", "int or string"),
                    "x-kubernetes-int-or-string": True,
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                }
                self._components = components
        return dict(self._components)

    def _validator(self, name: str) -> Any:
        validator = self._validators.get(name)
        if validator is None:
            schema = {"$ref": f"#/$defs/{name}", "$defs": self._strict}
            validator = jsonschema.Draft202012Validator(schema, format_checker=_INTEGER_FORMATS)
            self._validators[name] = validator
        return validator

    def validate(self, obj: Mapping[str, Any]) -> tuple[list[Cause], list[str]]:
        """Schema violations as causes, and the paths of unknown fields; ``([], [])`` for unknown kinds."""
        api_version = str(obj.get("apiVersion") or "")
        group, _, version = api_version.rpartition("/")
        name = self.definition_name(group, version, str(obj.get("kind") or ""))
        if name is None:
            return [], []
        causes: list[Cause] = []
        unknown: list[str] = []
        for error in self._validator(name).iter_errors(obj):
            self._collect(error, causes, unknown)
        unknown = [p for p in unknown if not p.startswith(_UNKNOWN_IGNORED)]
        return causes, sorted(set(unknown))

    def _collect(self, error: ValidationError, causes: list[Cause], unknown: list[str]) -> None:
        path = _field_path(error.absolute_path)
        keyword = error.validator
        instance = error.instance
        if (
            keyword == "additionalProperties"
            and error.validator_value is False
            and isinstance(instance, dict)
        ):
            declared = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
            unknown.extend(
                _field_path([*error.absolute_path, key]) for key in instance if key not in declared
            )
        elif keyword == "required" and isinstance(instance, dict):
            for key in error.validator_value:
                if key not in instance:
                    causes.append(
                        Cause(
                            "FieldValueRequired", "Required value", _field_path([*error.absolute_path, key])
                        )
                    )
        elif keyword == "enum":
            if path in ("apiVersion", "kind"):
                return
            allowed = ", ".join(json.dumps(v) for v in error.validator_value)
            causes.append(
                Cause(
                    "FieldValueNotSupported",
                    f"Unsupported value: {_render(instance)}: supported values: {allowed}",
                    path,
                )
            )
        elif keyword == "type":
            expected = error.validator_value
            wanted = [t for t in expected if t != "null"] if isinstance(expected, list) else [expected]
            causes.append(
                Cause(
                    "FieldValueTypeInvalid",
                    f"Invalid value: {_render(instance)}: {path} in body must be of type "
                    f"{' or '.join(wanted)}: {_render(instance)}",
                    path,
                )
            )
        elif keyword == "format" and isinstance(instance, int):
            low, high = _INTEGER_RANGES[str(error.validator_value)]
            bound = f"greater than or equal to {low}" if instance < low else f"less than or equal to {high}"
            causes.append(Cause("FieldValueInvalid", f"Invalid value: {instance}: must be {bound}", path))
        elif keyword in ("oneOf", "anyOf"):
            causes.append(
                Cause(
                    "FieldValueTypeInvalid",
                    f"Invalid value: {_render(instance)}: {path} has the wrong type",
                    path,
                )
            )
        else:
            causes.append(
                Cause("FieldValueInvalid", f"Invalid value: {_render(instance)}: {error.message}", path)
            )
