"""JSON Merge Patch (RFC 7386), pure: inputs are never mutated and the result shares no containers.

The PATCH handler calls :func:`apply_merge_patch` for ``application/merge-patch+json``; the RFC is a
dozen lines, so it is written here rather than pulled in as a dependency.
"""

from __future__ import annotations

import copy
from typing import Any


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with ``patch`` applied: objects merge recursively, ``null`` deletes, the rest replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


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
