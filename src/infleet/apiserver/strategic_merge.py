"""Strategic merge patch (``application/strategic-merge-patch+json``) for built-in kinds.

The PATCH handler calls :func:`apply_strategic_merge_patch` with the kind's :class:`SchemaNode`; list
strategies and merge keys come only from the schema's ``x-kubernetes-patch-*`` extensions. Where no
schema is known the subtree follows merge-patch semantics, but directives are still interpreted and
never stored. No maintained Python library implements SMP, hence this module.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from infleet.apiserver.errors import bad_request
from infleet.apiserver.schema_node import SchemaNode

_PATCH = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
_DELETE = object()  # sentinel: the map itself is deleted by `$patch: delete`


def apply_strategic_merge_patch(
    original: dict[str, Any], patch: dict[str, Any], schema: SchemaNode | None
) -> dict[str, Any]:
    """Return a new object: ``original`` with the strategic merge ``patch`` applied."""
    if not isinstance(patch, dict):
        raise bad_request(f"a strategic merge patch must be a JSON object, got {type(patch).__name__}")
    merged = _merge_map(copy.deepcopy(original), patch, schema, "")
    return {} if merged is _DELETE else merged


def _is_directive(key: str) -> bool:
    return key in (_PATCH, _RETAIN_KEYS) or key.startswith((_SET_ORDER, _DELETE_PRIMITIVE))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _where(path: str) -> str:
    return f"field {path!r}" if path else "the patch root"


def _string_list(value: Any, directive: str, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise bad_request(f"invalid strategic merge patch: {directive} at {_where(path)} must be a list")
    return value


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: SchemaNode | None, path: str) -> Any:
    """Merge ``patch`` into ``original`` (owned by the caller, mutated) and return it or ``_DELETE``."""
    directive = patch.get(_PATCH)
    if directive == "replace":
        return _merge_map({}, {k: v for k, v in patch.items() if k != _PATCH}, schema, path)
    if directive == "delete":
        return _DELETE
    if directive not in (None, "merge"):
        raise bad_request(
            f"invalid strategic merge patch: unknown $patch value {directive!r} at {_where(path)}; "
            "use replace, delete or merge"
        )
    if _RETAIN_KEYS in patch:
        _retain_keys(original, patch[_RETAIN_KEYS], path)
    _delete_from_primitive_lists(original, patch, path)
    _merge_fields(original, patch, schema, path)
    _set_element_orders(original, patch, schema, path)
    return original


def _retain_keys(original: dict[str, Any], retain: Any, path: str) -> None:
    """``$retainKeys``: drop every field of ``original`` the list does not name."""
    retain = _string_list(retain, _RETAIN_KEYS, path)
    if not all(isinstance(k, str) for k in retain):
        raise bad_request(
            f"invalid strategic merge patch: $retainKeys at {_where(path)} must list field names"
        )
    for key in [k for k in original if k not in retain]:
        del original[key]


def _delete_from_primitive_lists(original: dict[str, Any], patch: dict[str, Any], path: str) -> None:
    """``$deleteFromPrimitiveList/<field>``: remove the listed values from a list of scalars."""
    for key, value in patch.items():
        if key.startswith(_DELETE_PRIMITIVE):
            field = key[len(_DELETE_PRIMITIVE) :]
            doomed = _string_list(value, key, _join(path, field))
            current = original.get(field)
            if isinstance(current, list):
                original[field] = [item for item in current if item not in doomed]


def _merge_fields(
    original: dict[str, Any], patch: dict[str, Any], schema: SchemaNode | None, path: str
) -> None:
    """The non-directive fields of ``patch``: null deletes, maps and lists merge, scalars replace."""
    for key, value in patch.items():
        if _is_directive(key):
            continue
        child = schema.child(key) if schema is not None else None
        if value is None:
            original.pop(key, None)
        elif isinstance(value, dict):
            current = original.get(key)
            merged = _merge_map(current if isinstance(current, dict) else {}, value, child, _join(path, key))
            if merged is _DELETE:
                original.pop(key, None)
            else:
                original[key] = merged
        elif isinstance(value, list):
            original[key] = _merge_list(original.get(key), value, child, _join(path, key))
        else:
            original[key] = copy.deepcopy(value)


def _set_element_orders(
    original: dict[str, Any], patch: dict[str, Any], schema: SchemaNode | None, path: str
) -> None:
    """``$setElementOrder/<field>``: order the merged list as the patch author's copy had it."""
    for key, value in patch.items():
        if key.startswith(_SET_ORDER):
            field = key[len(_SET_ORDER) :]
            order = _string_list(value, key, _join(path, field))
            current = original.get(field)
            if isinstance(current, list):
                child = schema.child(field) if schema is not None else None
                merge_key = child.patch_merge_key if child is not None else None
                original[field] = _reorder(current, order, merge_key, _join(path, field))


def _is_replace_marker(item: Any) -> bool:
    return isinstance(item, dict) and item.get(_PATCH) == "replace" and len(item) == 1


def _merge_list(current: Any, patch: list[Any], schema: SchemaNode | None, path: str) -> list[Any]:
    if any(_is_replace_marker(item) for item in patch):
        patch = [item for item in patch if not _is_replace_marker(item)]
        current = []
    strategies = schema.patch_strategies if schema is not None else frozenset()
    if "merge" not in strategies or schema is None:
        return _replacement_list(patch)
    result: list[Any] = list(current) if isinstance(current, list) else []
    if all(not isinstance(item, dict | list) for item in patch):
        return _append_missing(result, patch)
    merge_key = schema.patch_merge_key
    if merge_key is None:
        return _replacement_list(patch)
    items_schema = schema.items()
    for i, item in enumerate(patch):
        result = _merge_list_item(result, item, merge_key, items_schema, f"{path}[{i}]")
    return result


def _replacement_list(patch: list[Any]) -> list[Any]:
    """``patch`` as the whole new list, without directive-only items."""
    return [copy.deepcopy(item) for item in patch if not (isinstance(item, dict) and _PATCH in item)]


def _append_missing(result: list[Any], patch: list[Any]) -> list[Any]:
    """``result`` with each scalar of ``patch`` it does not hold yet appended, in patch order."""
    for item in patch:
        if item not in result:
            result.append(item)
    return result


def _merge_list_item(
    result: list[Any], item: Any, merge_key: str, items_schema: SchemaNode | None, where: str
) -> list[Any]:
    """``result`` with the patch ``item`` merged into, replacing, deleting or appended to its match."""
    directive = _list_item_directive(item, merge_key, where)
    matches = [
        j
        for j, existing in enumerate(result)
        if isinstance(existing, dict) and existing.get(merge_key) == item[merge_key]
    ]
    if directive == "delete":
        return [existing for j, existing in enumerate(result) if j not in matches]
    base = result[matches[0]] if matches and directive != "replace" else {}
    merged = _merge_map(base, item, items_schema, where)
    if matches:
        result[matches[0]] = merged
    elif merged is not _DELETE:
        result.append(merged)
    return result


def _list_item_directive(item: Any, merge_key: str, where: str) -> Any:
    """The ``$patch`` of a merge-keyed list item, once the item is known to be well formed."""
    if not isinstance(item, dict):
        raise bad_request(
            f"invalid strategic merge patch: {where} must be an object with merge key {merge_key!r}"
        )
    if merge_key not in item:
        raise bad_request(
            f"invalid strategic merge patch: {where} lacks the declared merge key {merge_key!r}"
        )
    directive = item.get(_PATCH)
    if directive not in (None, "merge", "replace", "delete"):
        raise bad_request(
            f"invalid strategic merge patch: unknown $patch value {directive!r} at {where}; "
            "use replace, delete or merge"
        )
    return directive


def _identity(item: Any, merge_key: str | None) -> str:
    value = item.get(merge_key) if merge_key is not None and isinstance(item, dict) else item
    return json.dumps(value, sort_keys=True)


def _reorder(current: list[Any], order: list[Any], merge_key: str | None, path: str) -> list[Any]:
    """Order ``current`` as ``order`` says; items it does not name keep their slots."""
    rank: dict[str, int] = {}
    for i, entry in enumerate(order):
        if merge_key is not None and (not isinstance(entry, dict) or merge_key not in entry):
            raise bad_request(
                f"invalid strategic merge patch: $setElementOrder for {_where(path)} entry {i} "
                f"must be an object with merge key {merge_key!r}"
            )
        rank.setdefault(_identity(entry, merge_key), i)
    slots = [j for j, item in enumerate(current) if _identity(item, merge_key) in rank]
    ordered = sorted((current[j] for j in slots), key=lambda item: rank[_identity(item, merge_key)])
    result = list(current)
    for slot, item in zip(slots, ordered, strict=True):
        result[slot] = item
    return result
