"""An approximation of server-side apply (``application/apply-patch+yaml``).

The PATCH handler calls :func:`apply_configuration`: create-or-merge, lists merged by
``x-kubernetes-list-map-keys`` / patch merge key when the schema says so and replaced otherwise, and a
``managedFields`` entry (operation ``Apply``) for the manager. Field ownership is not tracked yet: there
are no conflicts, and fields a manager stops applying are not removed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from infleet.apiserver.schema_node import SchemaNode

# Server-owned metadata never enters a manager's field set.
_SERVER_METADATA = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    }
)


def _list_keys(schema: SchemaNode | None) -> tuple[str, ...]:
    """The keys that identify elements of a keyed list, or () for an atomic/replaced list."""
    if schema is None:
        return ()
    if schema.list_type == "map" and schema.list_map_keys:
        return schema.list_map_keys
    if "merge" in schema.patch_strategies and schema.patch_merge_key:
        return (schema.patch_merge_key,)
    return ()


def _identity(item: Any, keys: tuple[str, ...]) -> str | None:
    if not isinstance(item, dict):
        return None
    return json.dumps({k: item.get(k) for k in keys}, sort_keys=True)


def _merge(live: Any, applied: Any, schema: SchemaNode | None) -> Any:
    if isinstance(applied, dict):
        result = copy.deepcopy(live) if isinstance(live, dict) else {}
        for key, value in applied.items():
            child = schema.child(key) if schema is not None else None
            if value is None:
                result.pop(key, None)
            else:
                result[key] = _merge(result.get(key), value, child)
        return result
    if isinstance(applied, list):
        keys = _list_keys(schema)
        if not keys or not isinstance(live, list):
            return copy.deepcopy(applied)
        items_schema = schema.items() if schema is not None else None
        result_list = copy.deepcopy(live)
        index = {_identity(item, keys): i for i, item in enumerate(result_list) if isinstance(item, dict)}
        for item in applied:
            ident = _identity(item, keys)
            if ident is not None and ident in index:
                result_list[index[ident]] = _merge(result_list[index[ident]], item, items_schema)
            else:
                result_list.append(_merge(None, item, items_schema))
        return result_list
    return copy.deepcopy(applied)


def field_set(value: Any, schema: SchemaNode | None) -> dict[str, Any]:
    """The FieldsV1 trie (``f:``, ``k:``, ``v:`` and ``.`` keys) of the fields set in ``value``."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            child = schema.child(key) if schema is not None else None
            out[f"f:{key}"] = _field_value(item, child)
    return out


def _field_value(value: Any, schema: SchemaNode | None) -> dict[str, Any]:
    if isinstance(value, dict):
        return field_set(value, schema)
    if isinstance(value, list):
        keys = _list_keys(schema)
        items_schema = schema.items() if schema is not None else None
        if keys:
            entries: dict[str, Any] = {}
            for item in value:
                if isinstance(item, dict):
                    ident = json.dumps(
                        {k: item[k] for k in keys if k in item}, sort_keys=True, separators=(",", ":")
                    )
                    entries[f"k:{ident}"] = {".": {}, **field_set(item, items_schema)}
            return entries
        if schema is not None and schema.list_type == "set":
            return {f"v:{json.dumps(item, separators=(',', ':'))}": {} for item in value}
    return {}


def apply_configuration(
    live: dict[str, Any] | None,
    applied: Mapping[str, Any],
    schema: SchemaNode | None,
    *,
    manager: str,
    api_version: str,
    now: str,
) -> dict[str, Any]:
    """Merge ``applied`` into ``live`` (or create from it) and record ``manager``'s Apply entry."""
    applied_copy: dict[str, Any] = copy.deepcopy(dict(applied))
    applied_meta = applied_copy.get("metadata")
    if isinstance(applied_meta, dict):
        applied_meta.pop("managedFields", None)
    result: dict[str, Any] = _merge(live, applied_copy, schema)
    owned = {k: v for k, v in applied_copy.items() if k not in ("apiVersion", "kind")}
    if isinstance(owned.get("metadata"), dict):
        owned["metadata"] = {k: v for k, v in owned["metadata"].items() if k not in _SERVER_METADATA}
        if not owned["metadata"]:
            del owned["metadata"]
    entry = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": field_set(owned, schema),
    }
    metadata = result.setdefault("metadata", {})
    previous = (live or {}).get("metadata", {}).get("managedFields") or []
    kept = [
        e
        for e in previous
        if isinstance(e, Mapping) and not (e.get("manager") == manager and e.get("operation") == "Apply")
    ]
    metadata["managedFields"] = [copy.deepcopy(e) for e in kept] + [entry]
    return result
