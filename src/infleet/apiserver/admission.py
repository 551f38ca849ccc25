"""Schema admission for every write: validation, defaulting, pruning and ``fieldValidation``.

Custom resources follow their CRD's structural schema (defaults applied, unknown fields pruned) and its
CEL rules, which see the stored object as ``oldSelf`` on updates; built-in kinds are checked against the
Kubernetes schemas shipped by ``kubernetes-validate``. Unknown fields are an error under ``Strict``
(kubectl's default), a warning under ``Warn``, silent under ``Ignore``.
"""

from __future__ import annotations

import re
from typing import Any

from infleet.apiserver import cel_rules, structural, structural_validation
from infleet.apiserver.body_decoding import Decoded, ShapeError, check_shape
from infleet.apiserver.builtin_schemas import BuiltinSchemas
from infleet.apiserver.builtin_update_rules import update_causes
from infleet.apiserver.builtin_validation import builtin_causes
from infleet.apiserver.errors import Cause, bad_request, invalid
from infleet.apiserver.object_meta import KNOWN_METADATA_FIELDS, metadata_causes
from infleet.apiserver.resources import ResourceType

FIELD_VALIDATION_MODES = ("Strict", "Warn", "Ignore")
_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_field_validation(value: str | None) -> str:
    if value is None or value == "":
        return "Warn"
    if value not in FIELD_VALIDATION_MODES:
        raise bad_request(f"fieldValidation: invalid value {value!r}: must be one of Strict, Warn or Ignore")
    return value


def duplicate_field_warnings(resource: ResourceType, decoded: Decoded, field_validation: str) -> list[str]:
    """Fields a body sent twice: an error under Strict, warnings under Warn, nothing under Ignore."""
    if not decoded.duplicates or field_validation == "Ignore":
        return []
    if field_validation == "Strict":
        detail = ", ".join(decoded.duplicate_messages())
        raise bad_request(
            f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: '
            f"strict decoding error: {detail}",
            causes=[Cause("FieldValueDuplicate", "Duplicate value", path) for path in decoded.duplicates],
        )
    return decoded.duplicate_messages()


def admit(
    resource: ResourceType,
    obj: dict[str, Any],
    field_validation: str,
    old: dict[str, Any] | None = None,
    shape_checked: bool = False,
    subresource: str | None = None,
) -> list[str]:
    """Validate and normalise ``obj`` in place for ``resource``; return warnings for the client.

    ``old`` is the stored object an update replaces (None on create): CEL transition rules and the
    built-in kinds' immutable fields compare with it. Raises 400 for unknown fields under Strict and
    422 Invalid for schema and rule violations.
    """
    name = str((obj.get("metadata") or {}).get("name", ""))
    try:
        # Bodies were checked as they were decoded (``shape_checked``: this is that body); a patch can
        # still build a deeper object.
        if not shape_checked:
            check_shape(obj)
    except ShapeError as exc:
        cause = Cause("FieldValueInvalid", f"Invalid value: {exc}", exc.path)
        raise invalid(resource.kind, name, [cause], group=resource.group) from None
    metadata = obj.get("metadata") or {}
    unknown = [f"metadata.{key}" for key in metadata if key not in KNOWN_METADATA_FIELDS]
    for path in unknown:
        metadata.pop(path.split(".", 1)[1], None)
    causes = metadata_causes(metadata)
    warnings: list[str] = []
    if resource.builtin:
        # A binding sets what an update may not (``spec.nodeName``): its own rules were checked.
        compared = None if subresource == "binding" else old
        builtin_problems, builtin_unknown = _builtin_admission(resource, obj, compared)
        causes += builtin_problems
        unknown += builtin_unknown
    elif resource.schema is not None:
        settled = old if old is not None and _written_under_schema(resource, old) else None
        unknown += structural.prune(obj, resource.schema, settled)
        structural.apply_defaults(obj, resource.schema, settled)
        schema_causes = structural_validation.validate(obj, resource.schema, old)
        outcome = _rule_outcome(resource, obj, old, schema_causes)
        causes += schema_causes + outcome.causes
        warnings += outcome.warnings
    if unknown and field_validation == "Strict":
        detail = ", ".join(f'unknown field "{path}"' for path in unknown)
        raise bad_request(
            f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: '
            f"strict decoding error: {detail}",
            causes=[Cause("FieldValueInvalid", f'unknown field "{path}"', path) for path in unknown],
        )
    if causes:
        raise invalid(resource.kind, name, causes, group=resource.group)
    if field_validation == "Warn":
        warnings += [f'unknown field "{path}"' for path in unknown]
    return warnings


def _builtin_admission(
    resource: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None
) -> tuple[list[Cause], list[str]]:
    """A built-in kind's schema, rule and update violations, and its unknown fields (removed)."""
    schema_causes, unknown = BuiltinSchemas.load().validate(obj)
    causes = schema_causes or builtin_causes(resource.group, resource.kind, obj)
    if old is not None and not schema_causes:
        causes += update_causes(resource.group, resource.kind, obj, old)
    unknown = [path for path in unknown if not path.startswith("metadata.")]
    for path in unknown:
        _remove_path(obj, path)
    return causes, unknown


def _written_under_schema(resource: ResourceType, stored: dict[str, Any]) -> bool:
    """Whether ``stored`` was last written after its CRD (one resourceVersion counter orders both), so
    it was pruned and defaulted under the schema in force now and its unchanged parts need neither."""
    try:
        return int(stored["metadata"]["resourceVersion"]) > resource.schema_version
    except (KeyError, TypeError, ValueError):
        return False


def _rule_outcome(
    resource: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, schema_causes: list[Cause]
) -> cel_rules.Outcome:
    """The CRD's CEL rules on ``obj``; like kube-apiserver, not run over values of the wrong type."""
    validations = resource.validations
    if validations is None or validations.root is None:
        return cel_rules.Outcome()
    if any(cause.reason == "FieldValueTypeInvalid" for cause in schema_causes):
        message = (
            'Invalid value: "null": some validation rules were not checked because the object was invalid; '
            "correct the existing errors to complete validation"
        )
        return cel_rules.Outcome(causes=[Cause("FieldValueInvalid", message)])
    return cel_rules.evaluate(validations, obj, old)


def _remove_path(obj: dict[str, Any], path: str) -> None:
    """Delete the field at a ``spec.items[0].name`` style path, if present."""
    tokens: list[str | int] = [int(index) if index else key for key, index in _PATH_TOKEN.findall(path)]
    node: Any = obj
    for token in tokens[:-1]:
        if isinstance(token, int):
            if not isinstance(node, list) or token >= len(node):
                return
        elif not isinstance(node, dict) or token not in node:
            return
        node = node[token]
    last = tokens[-1] if tokens else None
    if isinstance(node, dict) and isinstance(last, str):
        node.pop(last, None)
