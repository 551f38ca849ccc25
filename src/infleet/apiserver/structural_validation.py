"""CRD structural schemas, validation: a custom resource against its version's ``openAPIV3Schema``, with
kube-apiserver's causes (field paths, reasons, messages) and its ratcheting of unchanged fields. The
schema's other passes (structural check, defaults, pruning) are in :mod:`infleet.apiserver.structural`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from infleet.apiserver.errors import Cause
from infleet.apiserver.structural import ABSENT, EMBEDDED, INT_OR_STRING, ROOT_META, join_path, show


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
        f"Invalid value: {show(value)}: {path} in body must be of type {wanted}: {show(value)}",
        path,
    )


def _invalid(value: Any, path: str, why: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {show(value)}: {path} in body {why}", path)


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
        if not schema.get("nullable") and (schema.get("type") or schema.get(INT_OR_STRING)):
            causes.append(_type_error(value, str(schema.get("type") or "integer-or-string"), path))
        return
    declared = schema.get("type")
    if schema.get(INT_OR_STRING) is True:
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
        allowed = ", ".join(show(v) for v in enum)
        causes.append(
            Cause(
                "FieldValueNotSupported",
                f"Unsupported value: {show(value)}: supported values: {allowed}",
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
            causes.append(_invalid(value, path, f"must be of type date-time: {show(value)}"))
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
        if root and name in ROOT_META and name not in properties:
            continue
        before = old.get(name, ABSENT) if old is not None else ABSENT
        if before is not ABSENT and before == item:
            continue  # ratcheting: unchanged since the stored object
        sub = properties.get(name)
        if isinstance(sub, dict):
            _validate(item, sub, join_path(path, name), causes, old=before)
        elif isinstance(additional, dict):
            _validate(item, additional, join_path(path, name), causes, old=before)


def _validate_required(
    value: dict[str, Any], schema: Mapping[str, Any], path: str, causes: list[Cause], root: bool
) -> None:
    for name in schema.get("required") or []:
        if name not in value and not (root and name in ROOT_META):
            causes.append(Cause("FieldValueRequired", "Required value", join_path(path, name)))
    if schema.get(EMBEDDED) is True:
        for name in ("apiVersion", "kind"):
            if not value.get(name):
                causes.append(
                    Cause("FieldValueRequired", "Required value: must not be empty", join_path(path, name))
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
                    Cause("FieldValueDuplicate", f"Duplicate value: {show(identity)}", f"{path}[{i}]")
                )
            seen.add(text)
