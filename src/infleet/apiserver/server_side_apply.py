"""Server-side apply (``application/apply-patch+yaml``) with field ownership, as kube-apiserver does it.

The applied configuration is merged into the live object (keyed lists by their keys, sets by value,
atomic lists and maps replaced). The applier then owns exactly the fields its configuration sets:
fields it applied before and leaves out now are removed unless another manager owns them; a field it
sets to a value other than the live one, where another manager owns that field, is a 409 conflict
naming the managers and fields, unless ``force`` takes the field from them. Equal values are shared.
The PATCH handler calls :func:`apply_configuration` on the live object (None when creating).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from infleet.api.labels import KUBECTL_LAST_APPLIED_ANNOTATION
from infleet.apiserver.errors import Cause, StatusError, bad_request
from infleet.apiserver.field_set import FieldSet, path_string
from infleet.apiserver.managed_fields import (
    APPLY,
    UPDATE,
    ManagerEntry,
    ManagerKey,
    Managers,
    comparison,
    decode_or_empty,
    ownable,
    schema_of,
    store,
    take_away,
)
from infleet.apiserver.resources import ResourceType
from infleet.apiserver.schema_node import SchemaNode
from infleet.apiserver.typed_values import (
    TypedValueError,
    merge,
    remove_fields,
    to_field_set,
    with_named_fields,
)

LAST_APPLIED = KUBECTL_LAST_APPLIED_ANNOTATION
BEFORE_FIRST_APPLY = "before-first-apply"
# kubectl's own manager: only its applies upgrade from, and keep in step with, client-side apply.
KUBECTL_MANAGER = "kubectl"


def apply_configuration(
    resource: ResourceType,
    live: dict[str, Any] | None,
    applied: Mapping[str, Any],
    *,
    manager: str,
    subresource: str | None,
    force: bool,
    now: str,
) -> dict[str, Any]:
    """The object after ``manager`` applies ``applied`` to ``live``, managedFields included."""
    applied_meta = applied.get("metadata")
    if isinstance(applied_meta, Mapping) and applied_meta.get("managedFields") is not None:
        raise bad_request(
            "metadata.managedFields must be nil: remove managedFields from the applied configuration"
        )
    schema = schema_of(resource)
    try:
        config_fields = to_field_set(ownable(resource, subresource, applied), schema)
        config_fields.members.discard("f:metadata")  # a fresh set; metadata is never a field of its own
        merged: dict[str, Any] = merge(live if live is not None else {}, applied, schema)
    except TypedValueError as error:
        raise _typed_error(resource, applied, error) from None
    managers = decode_or_empty(live)
    if live is not None and not managers:
        _adopt_unmanaged(resource, live, managers, subresource, now, schema)
    key: ManagerKey = (manager, APPLY, "", subresource or "")
    previous = managers.get(key)
    managers[key] = ManagerEntry(
        manager,
        APPLY,
        resource.api_version,
        previous.time if previous else now,
        subresource or "",
        config_fields,
    )
    if previous is not None:
        merged = _prune(merged, managers, previous.fields, schema)
    changes = comparison(resource, live, merged, schema, subresource)
    conflicts = _conflicts(managers, changes.changed(), key)
    if conflicts and not force:
        conflicts = _beyond_last_applied(conflicts, manager, live, resource, schema)
        if conflicts:
            raise conflict_error(conflicts, managers)
    take_away(managers, changes, key)
    if config_fields.empty():
        del managers[key]
    elif not changes.added.empty() or not changes.modified.empty() or not changes.removed.empty():
        managers[key].time = now
    if manager == KUBECTL_MANAGER and live is not None and _last_applied(live) is not None:
        _set_last_applied(merged, applied)
    store(merged, managers)
    return merged


def _typed_error(resource: ResourceType, applied: Mapping[str, Any], error: TypedValueError) -> StatusError:
    metadata = applied.get("metadata") if isinstance(applied.get("metadata"), Mapping) else {}
    assert isinstance(metadata, Mapping)
    where = f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"
    gvk = f"{resource.api_version}, Kind={resource.kind}"
    return bad_request(f"failed to create typed patch object ({where}; {gvk}): {error}")


def _adopt_unmanaged(
    resource: ResourceType,
    live: Mapping[str, Any],
    managers: Managers,
    subresource: str | None,
    now: str,
    schema: SchemaNode | None,
) -> None:
    """An object nobody manages yet is owned by ``before-first-apply`` for its first apply."""
    owned = comparison(resource, None, live, schema, subresource).changed()
    if not owned.empty():
        key: ManagerKey = (BEFORE_FIRST_APPLY, UPDATE, resource.api_version, subresource or "")
        managers[key] = ManagerEntry(
            BEFORE_FIRST_APPLY, UPDATE, resource.api_version, now, subresource or "", owned
        )


def _prune(
    merged: dict[str, Any], managers: Managers, last: FieldSet, schema: SchemaNode | None
) -> dict[str, Any]:
    """Remove what the applier applied last time, left out now, and nobody (itself included) owns.

    A struct goes with its fields when no manager owns anything in it any more.
    """
    owned = FieldSet()
    for entry in managers.values():
        owned = owned.union(entry.fields)
    removable = with_named_fields(last, schema).difference(with_named_fields(owned, schema))
    pruned: dict[str, Any] = remove_fields(merged, removable, schema)
    return pruned


def _conflicts(managers: Managers, changed: FieldSet, applier: ManagerKey) -> dict[ManagerKey, FieldSet]:
    found: dict[ManagerKey, FieldSet] = {}
    for key, entry in managers.items():
        if key == applier or not entry.overlaps(changed):
            continue
        overlap = entry.fields.intersection(changed)
        if not overlap.empty():
            found[key] = overlap
    return found


def _last_applied(live: Mapping[str, Any]) -> str | None:
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(LAST_APPLIED) if isinstance(annotations, Mapping) else None
    return value if isinstance(value, str) and value else None


def _beyond_last_applied(
    conflicts: dict[ManagerKey, FieldSet],
    manager: str,
    live: Mapping[str, Any] | None,
    resource: ResourceType,
    schema: SchemaNode | None,
) -> dict[ManagerKey, FieldSet]:
    """kubectl's first server-side apply of an object it applied client-side does not conflict on the
    fields whose live value is still the one in the last-applied annotation (kube-apiserver's upgrade)."""
    text = _last_applied(live) if live is not None and manager == KUBECTL_MANAGER else None
    if text is None or live is None:
        return conflicts
    try:
        last_applied = json.loads(text)
        if not isinstance(last_applied, dict):
            return conflicts
        allowed = to_field_set(ownable(resource, None, last_applied), schema)
    except (ValueError, TypedValueError):
        return conflicts
    differs = comparison(resource, last_applied, live, schema, None)
    allowed = allowed.difference(differs.modified).difference(differs.added).difference(differs.removed)
    remaining = {key: fields.difference(allowed) for key, fields in conflicts.items()}
    return {key: fields for key, fields in remaining.items() if not fields.empty()}


def _set_last_applied(merged: dict[str, Any], applied: Mapping[str, Any]) -> None:
    """kubectl's server-side applies keep an existing last-applied annotation current, so a later
    client-side apply computes its three-way patch from what was applied last."""
    config = json.loads(json.dumps(applied))
    annotations = (config.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
        if not annotations:
            config["metadata"].pop("annotations")
    merged_meta = merged.setdefault("metadata", {})
    merged_annotations = dict(merged_meta.get("annotations") or {})
    merged_annotations[LAST_APPLIED] = json.dumps(config, separators=(",", ":"))
    merged_meta["annotations"] = merged_annotations


def conflict_error(conflicts: dict[ManagerKey, FieldSet], managers: Managers) -> StatusError:
    """409 Conflict with kube-apiserver's message and one ``FieldManagerConflict`` cause per field."""
    causes: list[Cause] = []
    lines: list[str] = []
    for key in sorted(conflicts):
        who = managers[key].described()
        paths = [path_string(path) for path in conflicts[key].paths()]
        lines.append(f"conflicts with {who}:")
        for path in paths:
            causes.append(Cause("FieldManagerConflict", f"conflict with {who}", path))
            lines.append(f"- {path}")
    if len(causes) == 1:
        message = f"Apply failed with 1 conflict: {causes[0].message}: {causes[0].field}"
    else:
        message = f"Apply failed with {len(causes)} conflicts: " + "\n".join(lines)
    return StatusError(409, "Conflict", message, causes=causes)
