"""JSON Merge Patch (RFC 7386), pure: inputs are never mutated and the result shares no containers.

The PATCH handler calls :func:`apply_merge_patch` for ``application/merge-patch+json``; the RFC is a
dozen lines, so it is written here rather than pulled in as a dependency.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with ``patch`` applied: objects merge recursively, ``null`` deletes, the rest replaces."""
    if not isinstance(patch, dict):
        return _copy(patch)
    # One copy of the whole target, then merged in place: copying at every level of the recursion
    # copied each subtree once per level above it (most of the API server's PATCH time).
    return _merge_into(_copy(target) if isinstance(target, dict) else {}, patch)


def _merge_into(result: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            result[key] = _merge_into(current if isinstance(current, dict) else {}, value)
        else:
            result[key] = _copy(value)
    return result


def _copy(value: Any) -> Any:
    """A deep copy of JSON data; orjson's round trip is several times faster than ``copy.deepcopy``."""
    if isinstance(value, dict | list):
        try:
            return orjson.loads(orjson.dumps(value))
        except TypeError:  # outside what orjson writes (an integer over 64 bits): validation says so later
            return copy.deepcopy(value)
    return value


def create_merge_patch(source: Any, target: Any) -> Any:
    """The merge patch that turns ``source`` into ``target`` (for tests and dry-run diffs).

    ``null`` values inside ``target`` objects cannot be expressed by a merge patch and are dropped.
    """
    if not isinstance(source, dict) or not isinstance(target, dict):
        return copy.deepcopy(target)
    patch: dict[str, Any] = {}
    for key in source:
        if key not in target or target[key] is None:
            patch[key] = None
    for key, value in target.items():
        if value is None:
            continue
        if key not in source:
            patch[key] = create_merge_patch(None, value) if isinstance(value, dict) else copy.deepcopy(value)
        elif source[key] != value or type(source[key]) is not type(value):
            patch[key] = create_merge_patch(source[key], value)
    return patch
