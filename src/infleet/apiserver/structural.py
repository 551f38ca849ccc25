"""CustomResourceDefinition structural schemas: the structural check, defaulting and pruning (validation
is :mod:`infleet.apiserver.structural_validation`), and what those passes share.

CRD registration calls :func:`check_structural`; every custom-resource write runs :func:`prune`,
:func:`apply_defaults` and then ``structural_validation.validate``. Written by hand because
``jsonschema`` neither defaults nor prunes and apiextensions semantics differ (int-or-string, nullable,
list types, error paths and messages). ``x-kubernetes-validations`` (CEL rules) are compiled and
evaluated by ``cel_rules``, not here.

Schemas and objects are decoded JSON, so nodes are tested with ``isinstance(x, dict)``: the ABC check
(``Mapping``) on every node cost about 8% of a custom-resource write.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from infleet.apiserver.errors import Cause

ROOT_META = ("apiVersion", "kind", "metadata")
PRESERVE = "x-kubernetes-preserve-unknown-fields"
INT_OR_STRING = "x-kubernetes-int-or-string"
EMBEDDED = "x-kubernetes-embedded-resource"
_TYPES = {"object", "array", "string", "integer", "number", "boolean"}
#: A field a stored object does not have (None is a value).
ABSENT = object()


def join_path(path: str, key: str) -> str:
    """``spec`` + ``replicas`` as ``spec.replicas``: the field paths of kube-apiserver's causes."""
    return f"{path}.{key}" if path else key


def show(value: Any) -> str:
    """A value as a cause's message quotes it: JSON, cut at 80 characters."""
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


# ---- structural check -------------------------------------------------------------------------


def check_structural(schema: Mapping[str, Any], path: str) -> list[Cause]:
    """Causes for every node lacking ``type`` (unless int-or-string or preserve-unknown-fields)."""
    causes: list[Cause] = []
    _check_node(schema, path, causes, root=True)
    return causes


def _check_node(schema: Any, path: str, causes: list[Cause], root: bool = False) -> None:
    if not isinstance(schema, dict):
        causes.append(Cause("FieldValueInvalid", "Invalid value: must be a schema object", path))
        return
    if "$ref" in schema:
        causes.append(
            Cause("FieldValueForbidden", "Forbidden: $ref is not allowed in CRD schemas", f"{path}.$ref")
        )
    _check_type(schema, path, causes, root)
    _check_properties(schema, path, causes)
    _check_items(schema, path, causes)


def _check_type(schema: Mapping[str, Any], path: str, causes: list[Cause], root: bool) -> None:
    declared = schema.get("type")
    int_or_string = schema.get(INT_OR_STRING) is True
    if not declared and not (int_or_string or schema.get(PRESERVE) is True):
        causes.append(
            Cause(
                "FieldValueRequired", "Required value: must not be empty for specified fields", f"{path}.type"
            )
        )
    elif declared and declared not in _TYPES:
        causes.append(
            Cause(
                "FieldValueNotSupported",
                f"Unsupported value: {show(declared)}: supported values: {', '.join(sorted(_TYPES))}",
                f"{path}.type",
            )
        )
    if root and declared and declared != "object":
        causes.append(
            Cause("FieldValueInvalid", f"Invalid value: {show(declared)}: must be object", f"{path}.type")
        )
    if int_or_string and declared:
        causes.append(
            Cause(
                "FieldValueForbidden",
                "Forbidden: must be empty if x-kubernetes-int-or-string is true",
                f"{path}.type",
            )
        )
    if schema.get(EMBEDDED) is True and declared != "object":
        causes.append(
            Cause(
                "FieldValueInvalid",
                "Invalid value: must be object if x-kubernetes-embedded-resource is true",
                f"{path}.type",
            )
        )


def _check_properties(schema: Mapping[str, Any], path: str, causes: list[Cause]) -> None:
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, sub in properties.items():
            _check_node(sub, f"{path}.properties[{name}]", causes)
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        if isinstance(properties, dict) and properties:
            causes.append(
                Cause(
                    "FieldValueForbidden",
                    "Forbidden: additionalProperties and properties are mutually exclusive",
                    f"{path}.additionalProperties",
                )
            )
        _check_node(additional, f"{path}.additionalProperties", causes)
    elif additional is False:
        causes.append(
            Cause(
                "FieldValueForbidden",
                "Forbidden: additionalProperties: false is not allowed",
                f"{path}.additionalProperties",
            )
        )


def _check_items(schema: Mapping[str, Any], path: str, causes: list[Cause]) -> None:
    items = schema.get("items")
    if isinstance(items, dict):
        _check_node(items, f"{path}.items", causes)
    elif items is not None:
        causes.append(
            Cause("FieldValueForbidden", "Forbidden: items must be a single schema", f"{path}.items")
        )
    elif schema.get("type") == "array":
        causes.append(Cause("FieldValueRequired", "Required value: must be specified", f"{path}.items"))


# ---- defaulting -------------------------------------------------------------------------------


def apply_defaults(
    obj: dict[str, Any], schema: Mapping[str, Any], settled: Mapping[str, Any] | None = None
) -> None:
    """Set ``default`` values where fields are absent (or null and not nullable), recursively.
    ``settled``: the stored object, defaulted under this same schema; values equal to its are skipped."""
    _default(obj, schema, settled)


def _default(value: Any, schema: Mapping[str, Any], settled: Any = None) -> None:
    # Objects are handled inline and arrays and maps aside: this runs for every node of every write.
    if isinstance(value, list):
        _default_items(value, schema)
        return
    if not isinstance(value, dict):
        return
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, sub in properties.items():
            if not isinstance(sub, dict):
                continue
            missing = name not in value or (value[name] is None and not sub.get("nullable"))
            if missing and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                # As stored (and the stored object was defaulted under this schema): nothing to do.
                same, before = _as_stored(settled, name, value[name])
                if not same:
                    _default(value[name], sub, before)
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        _default_additional(value, properties if isinstance(properties, dict) else {}, additional)


def _default_items(value: list[Any], schema: Mapping[str, Any]) -> None:
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            if item is None and "default" in items and not items.get("nullable"):
                value[i] = copy.deepcopy(items["default"])
            _default(value[i], items)


def _default_additional(
    value: dict[str, Any], declared: Mapping[str, Any], additional: Mapping[str, Any]
) -> None:
    for name, item in value.items():
        if name not in declared:
            _default(item, additional)


def _as_stored(settled: Any, name: str, value: Any) -> tuple[bool, Any]:
    """Whether ``value`` is what the stored object holds under ``name``, and what it holds there."""
    before = settled.get(name, ABSENT) if isinstance(settled, dict) else ABSENT
    return before is not ABSENT and before == value, before


# ---- pruning ----------------------------------------------------------------------------------


def prune(
    obj: dict[str, Any], schema: Mapping[str, Any], settled: Mapping[str, Any] | None = None
) -> list[str]:
    """Remove undeclared fields (and nulls of non-nullable ones); top-level apiVersion/kind/metadata stay.
    ``settled``: the stored object, pruned under this same schema; values equal to its are skipped."""
    removed: list[str] = []
    _prune(obj, schema, "", removed, keep=ROOT_META, settled=settled)
    return removed


def _prune(
    value: Any,
    schema: Mapping[str, Any],
    path: str,
    removed: list[str],
    keep: tuple[str, ...] = (),
    settled: Any = None,
) -> None:
    # Objects are handled inline and arrays aside: this runs for every node of every write.
    if isinstance(value, list):
        _prune_items(value, schema, path, removed)
        return
    if not isinstance(value, dict):
        return
    if schema.get(EMBEDDED) is True:
        keep = ROOT_META
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    additional = schema.get("additionalProperties")
    preserve = schema.get(PRESERVE) is True or additional is True
    for name in list(value):
        if name in keep:
            # apiVersion, kind and metadata are the server's (ObjectMeta is checked on its own), so a
            # schema that declares them, even as a bare object, never prunes them.
            continue
        where = join_path(path, name)
        sub = properties.get(name)
        if sub is None and isinstance(additional, dict):
            sub = additional
        if _dropped(value[name], sub, preserve):
            del value[name]
            removed.append(where)
            continue
        if not isinstance(sub, dict):
            continue  # undeclared but preserved
        # As stored (and the stored object was pruned under this schema): nothing to do.
        same, before = _as_stored(settled, name, value[name])
        if not same:
            _prune(value[name], sub, where, removed, settled=before)


def _dropped(item: Any, sub: Any, preserve: bool) -> bool:
    """Whether pruning removes a field: undeclared where unknown fields are not preserved, or a null
    that its schema does not allow."""
    if not isinstance(sub, dict):
        return not preserve
    return item is None and not sub.get("nullable") and not sub.get(PRESERVE)


def _prune_items(value: list[Any], schema: Mapping[str, Any], path: str, removed: list[str]) -> None:
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            _prune(item, items, f"{path}[{i}]", removed)
