"""CustomResourceDefinition structural schemas: the structural check, defaulting, pruning, validation.

CRD registration calls :func:`check_structural`; every custom-resource write runs :func:`apply_defaults`,
:func:`prune` and :func:`validate`. Written by hand because ``jsonschema`` neither defaults nor prunes and
apiextensions semantics differ (int-or-string, nullable, list types, error paths and messages).
``x-kubernetes-validations`` (CEL rules) are compiled and evaluated by ``cel_rules``, not here.

Schemas and objects are decoded JSON, so nodes are tested with ``isinstance(x, dict)``: the ABC check
(``Mapping``) on every node cost about 8% of a custom-resource write.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from infleet.apiserver.errors import Cause

_ROOT_META = ("apiVersion", "kind", "metadata")
_PRESERVE = "x-kubernetes-preserve-unknown-fields"
_INT_OR_STRING = "x-kubernetes-int-or-string"
_EMBEDDED = "x-kubernetes-embedded-resource"
_TYPES = {"object", "array", "string", "integer", "number", "boolean"}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(value: Any) -> str:
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
    int_or_string = schema.get(_INT_OR_STRING) is True
    if not declared and not (int_or_string or schema.get(_PRESERVE) is True):
        causes.append(
            Cause(
                "FieldValueRequired", "Required value: must not be empty for specified fields", f"{path}.type"
            )
        )
    elif declared and declared not in _TYPES:
        causes.append(
            Cause(
                "FieldValueNotSupported",
                f"Unsupported value: {_show(declared)}: supported values: {', '.join(sorted(_TYPES))}",
                f"{path}.type",
            )
        )
    if root and declared and declared != "object":
        causes.append(
            Cause("FieldValueInvalid", f"Invalid value: {_show(declared)}: must be object", f"{path}.type")
        )
    if int_or_string and declared:
        causes.append(
            Cause(
                "FieldValueForbidden",
                "Forbidden: must be empty if x-kubernetes-int-or-string is true",
                f"{path}.type",
            )
        )
    if schema.get(_EMBEDDED) is True and declared != "object":
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
    before = settled.get(name, _ABSENT) if isinstance(settled, dict) else _ABSENT
    return before is not _ABSENT and before == value, before


# ---- pruning ----------------------------------------------------------------------------------


def prune(
    obj: dict[str, Any], schema: Mapping[str, Any], settled: Mapping[str, Any] | None = None
) -> list[str]:
    """Remove undeclared fields (and nulls of non-nullable ones); top-level apiVersion/kind/metadata stay.
    ``settled``: the stored object, pruned under this same schema; values equal to its are skipped."""
    removed: list[str] = []
    _prune(obj, schema, "", removed, keep=_ROOT_META, settled=settled)
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
    if schema.get(_EMBEDDED) is True:
        keep = _ROOT_META
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    additional = schema.get("additionalProperties")
    preserve = schema.get(_PRESERVE) is True or additional is True
    for name in list(value):
        if name in keep:
            # apiVersion, kind and metadata are the server's (ObjectMeta is checked on its own), so a
            # schema that declares them, even as a bare object, never prunes them.
            continue
        where = _join(path, name)
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
    return item is None and not sub.get("nullable") and not sub.get(_PRESERVE)


def _prune_items(value: list[Any], schema: Mapping[str, Any], path: str, removed: list[str]) -> None:
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            _prune(item, items, f"{path}[{i}]", removed)


# ---- validation -------------------------------------------------------------------------------


def validate(
    obj: Mapping[str, Any], schema: Mapping[str, Any], old: Mapping[str, Any] | None = None
) -> list[Cause]:
    """Schema violations of ``obj`` as causes with kube-apiserver style field paths and messages.

    With ``old`` (an update), values unchanged from it are not validated again: kube-apiserver's CRD
    validation ratcheting (GA in 1.33), which lets an object stored under an older schema keep its
    untouched fields. It also spares a status write re-checking the whole spec it did not change."""
    causes: list[Cause] = []
    _validate(obj, schema, "", causes, root=True, old=old)
    return causes


def _type_ok(value: Any, declared: str) -> bool:
    if declared == "object":
        return isinstance(value, dict)
    if declared == "array":
        return isinstance(value, list)
    if declared == "string":
        return isinstance(value, str)
    if declared == "boolean":
        return isinstance(value, bool)
    if declared == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (
            isinstance(value, float) and math.isfinite(value) and value.is_integer()
        )
    if declared == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


def _type_error(value: Any, wanted: str, path: str) -> Cause:
    return Cause(
        "FieldValueTypeInvalid",
        f"Invalid value: {_show(value)}: {path} in body must be of type {wanted}: {_show(value)}",
        path,
    )


def _invalid(value: Any, path: str, why: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {_show(value)}: {path} in body {why}", path)


def _date_time_ok(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def _validate(
    value: Any,
    schema: Mapping[str, Any],
    path: str,
    causes: list[Cause],
    root: bool = False,
    old: Any = None,
) -> None:
    if value is None:
        if not schema.get("nullable") and (schema.get("type") or schema.get(_INT_OR_STRING)):
            causes.append(_type_error(value, str(schema.get("type") or "integer-or-string"), path))
        return
    declared = schema.get("type")
    if schema.get(_INT_OR_STRING) is True:
        if not (isinstance(value, str) or _type_ok(value, "integer")):
            causes.append(_type_error(value, "integer-or-string", path))
            return
    elif isinstance(declared, str) and not _type_ok(value, declared):
        causes.append(_type_error(value, declared, path))
        return
    _validate_value(value, schema, path, causes)
    _validate_combinators(value, schema, path, causes)
    if isinstance(value, dict):
        _validate_object(value, schema, path, causes, root, old if isinstance(old, dict) else None)
    elif isinstance(value, list):
        _validate_array(value, schema, path, causes)


def _validate_value(value: Any, schema: Mapping[str, Any], path: str, causes: list[Cause]) -> None:
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        allowed = ", ".join(_show(v) for v in enum)
        causes.append(
            Cause(
                "FieldValueNotSupported",
                f"Unsupported value: {_show(value)}: supported values: {allowed}",
                path,
            )
        )
    if isinstance(value, str):
        max_length = schema.get("maxLength")
        if isinstance(max_length, int) and len(value) > max_length:
            causes.append(
                Cause("FieldValueTooLong", f"Too long: may not be more than {max_length} bytes", path)
            )
        min_length = schema.get("minLength")
        if isinstance(min_length, int) and len(value) < min_length:
            causes.append(_invalid(value, path, f"should be at least {min_length} chars long"))
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                matched = re.search(pattern, value) is not None
            except re.error:
                matched = True  # a pattern Python cannot compile is not the object's fault
            if not matched:
                causes.append(_invalid(value, path, f"should match '{pattern}'"))
        if schema.get("format") == "date-time" and not _date_time_ok(value):
            causes.append(_invalid(value, path, f"must be of type date-time: {_show(value)}"))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _validate_number(value, schema, path, causes)


def _validate_number(value: float, schema: Mapping[str, Any], path: str, causes: list[Cause]) -> None:
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    if isinstance(minimum, int | float):
        if schema.get("exclusiveMinimum") is True and value <= minimum:
            causes.append(_invalid(value, path, f"should be greater than {minimum}"))
        elif value < minimum:
            causes.append(_invalid(value, path, f"should be greater than or equal to {minimum}"))
    if isinstance(maximum, int | float):
        if schema.get("exclusiveMaximum") is True and value >= maximum:
            causes.append(_invalid(value, path, f"should be less than {maximum}"))
        elif value > maximum:
            causes.append(_invalid(value, path, f"should be less than or equal to {maximum}"))
    multiple = schema.get("multipleOf")
    if (
        isinstance(multiple, int | float)
        and multiple > 0
        and not math.isclose(value / multiple, round(value / multiple))
    ):
        causes.append(_invalid(value, path, f"should be a multiple of {multiple}"))


def _validate_combinators(value: Any, schema: Mapping[str, Any], path: str, causes: list[Cause]) -> None:
    def passes(sub: Any) -> bool:
        found: list[Cause] = []
        if isinstance(sub, dict):
            _validate(value, sub, path, found)
        return not found

    for sub in schema.get("allOf") or []:
        if isinstance(sub, dict):
            _validate(value, sub, path, causes)
    any_of = schema.get("anyOf")
    if isinstance(any_of, list) and any_of and not any(passes(sub) for sub in any_of):
        causes.append(_invalid(value, path, "must match a schema in anyOf"))
    one_of = schema.get("oneOf")
    if isinstance(one_of, list) and one_of and sum(passes(sub) for sub in one_of) != 1:
        causes.append(_invalid(value, path, "must match exactly one schema in oneOf"))
    negated = schema.get("not")
    if isinstance(negated, dict) and passes(negated):
        causes.append(_invalid(value, path, "must not match the schema in not"))


def _validate_object(
    value: dict[str, Any],
    schema: Mapping[str, Any],
    path: str,
    causes: list[Cause],
    root: bool,
    old: dict[str, Any] | None = None,
) -> None:
    _validate_required(value, schema, path, causes, root)
    _validate_property_count(value, schema, path, causes)
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    additional = schema.get("additionalProperties")
    for name, item in value.items():
        if root and name in _ROOT_META and name not in properties:
            continue
        before = old.get(name, _ABSENT) if old is not None else _ABSENT
        if before is not _ABSENT and before == item:
            continue  # ratcheting: unchanged since the stored object
        sub = properties.get(name)
        if isinstance(sub, dict):
            _validate(item, sub, _join(path, name), causes, old=before)
        elif isinstance(additional, dict):
            _validate(item, additional, _join(path, name), causes, old=before)


_ABSENT = object()


def _validate_required(
    value: dict[str, Any], schema: Mapping[str, Any], path: str, causes: list[Cause], root: bool
) -> None:
    for name in schema.get("required") or []:
        if name not in value and not (root and name in _ROOT_META):
            causes.append(Cause("FieldValueRequired", "Required value", _join(path, name)))
    if schema.get(_EMBEDDED) is True:
        for name in ("apiVersion", "kind"):
            if not value.get(name):
                causes.append(
                    Cause("FieldValueRequired", "Required value: must not be empty", _join(path, name))
                )


def _validate_property_count(
    value: dict[str, Any], schema: Mapping[str, Any], path: str, causes: list[Cause]
) -> None:
    max_properties, min_properties = schema.get("maxProperties"), schema.get("minProperties")
    if isinstance(max_properties, int) and len(value) > max_properties:
        causes.append(
            Cause(
                "FieldValueTooMany", f"Too many: {len(value)}: must have at most {max_properties} items", path
            )
        )
    if isinstance(min_properties, int) and len(value) < min_properties:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {path} in body should have at least {min_properties} properties",
                path,
            )
        )


def _validate_array(value: list[Any], schema: Mapping[str, Any], path: str, causes: list[Cause]) -> None:
    max_items, min_items = schema.get("maxItems"), schema.get("minItems")
    if isinstance(max_items, int) and len(value) > max_items:
        causes.append(
            Cause("FieldValueTooMany", f"Too many: {len(value)}: must have at most {max_items} items", path)
        )
    if isinstance(min_items, int) and len(value) < min_items:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {len(value)}: {path} in body should have at least {min_items} items",
                path,
            )
        )
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            _validate(item, items, f"{path}[{i}]", causes)
    list_type = schema.get("x-kubernetes-list-type")
    keys = schema.get("x-kubernetes-list-map-keys") or []
    if schema.get("uniqueItems") is True or list_type in ("set", "map"):
        seen: set[str] = set()
        for i, item in enumerate(value):
            if list_type == "map" and isinstance(item, dict) and keys:
                identity: Any = {k: item.get(k) for k in keys}
            else:
                identity = item
            text = json.dumps(identity, sort_keys=True, default=str)
            if text in seen:
                causes.append(
                    Cause("FieldValueDuplicate", f"Duplicate value: {_show(identity)}", f"{path}[{i}]")
                )
            seen.add(text)
