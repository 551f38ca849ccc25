"""The Kubernetes CEL list library: ``isSorted``, ``sum``, ``min``, ``max``, ``indexOf``, ``lastIndexOf``.

CEL keeps bool apart from int (``[true].indexOf(1)`` is -1), which Python's ``==`` does not; every
comparison here goes through :func:`same`.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from infleet.apiserver.cel_opaque import LibraryError, describe, expect

_INT64 = (-(2**63), 2**63 - 1)
_NUMBER = (int, float)


def same(left: Any, right: Any) -> bool:
    """CEL equality: bools equal only bools; ints and doubles compare by value."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    return bool(left == right)


def _comparable_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, _NUMBER):
        return "number"
    for kind, name in ((str, "string"), (bytes, "bytes"), (datetime, "timestamp"), (timedelta, "duration")):
        if isinstance(value, kind):
            return name
    raise LibraryError(f"no such overload: {describe(value)} is not comparable")


def _ordered(items: list[Any], function: str) -> list[Any]:
    kinds = {_comparable_kind(item) for item in expect(items, list, function)}
    if len(kinds) > 1:
        raise LibraryError(f"no such overload: {function} over a list of mixed types")
    return items


def is_sorted(items: Any) -> bool:
    """``isSorted()``: whether every element is at most the next."""
    ordered = _ordered(items, "isSorted")
    return all(left <= right for left, right in itertools.pairwise(ordered))


def sum_list(items: Any) -> Any:
    """``sum()``: what ``+`` adds (numbers, durations, strings, bytes); 0 when empty; int overflow errs."""
    ordered = _ordered(items, "sum")
    if ordered and isinstance(ordered[0], (bool, datetime)):
        raise LibraryError(f"no such overload: sum(list({describe(ordered[0])}))")
    if ordered and isinstance(ordered[0], timedelta):
        return sum(ordered, timedelta())
    if ordered and isinstance(ordered[0], (str, bytes)):
        return ordered[0][:0].join(ordered)
    total = sum(ordered)
    if isinstance(total, int) and not _INT64[0] <= total <= _INT64[1]:
        raise LibraryError("integer overflow")
    return total


def min_list(*args: Any) -> Any:
    """``min()`` of a list (or of several arguments, as the cel package's own ``min``)."""
    items = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
    if not items:
        raise LibraryError("min called on empty list")
    return min(_ordered(items, "min"))


def max_list(*args: Any) -> Any:
    """``max()`` of a list (or of several arguments, as the cel package's own ``max``)."""
    items = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
    if not items:
        raise LibraryError("max called on empty list")
    return max(_ordered(items, "max"))


def index_of(items: list[Any], element: Any) -> int:
    """``indexOf(element)``: the first index holding an equal element, or -1."""
    return next((index for index, item in enumerate(items) if same(item, element)), -1)


def last_index_of(items: list[Any], element: Any) -> int:
    """``lastIndexOf(element)``: the last index holding an equal element, or -1."""
    found = [index for index, item in enumerate(items) if same(item, element)]
    return found[-1] if found else -1
