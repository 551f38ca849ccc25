"""Query-parameter parsing with Kubernetes' rules (Go-style booleans, integers, selectors).

Every parse error is a 400 naming the parameter and what it accepts.
"""

from __future__ import annotations

from collections.abc import Mapping

from infleet.apiserver.errors import bad_request
from infleet.apiserver.selectors import FieldSelector, LabelSelector

_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})


def go_bool(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    """Parse like Go's strconv.ParseBool (kubectl sends ``true``, kubernetes_asyncio ``True``)."""
    value = query.get(name)
    if value is None or value == "":
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise bad_request(f"{name}: invalid boolean {value!r}: use true or false")


def non_negative_int(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise bad_request(f"{name}: invalid integer {value!r}") from None
    if number < 0:
        raise bad_request(f"{name}: must be zero or positive, got {number}")
    return number


def label_selector(query: Mapping[str, str]) -> LabelSelector | None:
    text = query.get("labelSelector")
    return LabelSelector.parse(text) if text else None


def field_selector(query: Mapping[str, str]) -> FieldSelector | None:
    text = query.get("fieldSelector")
    return FieldSelector.parse(text) if text else None


def resource_version(query: Mapping[str, str]) -> int | None:
    """The ``resourceVersion`` parameter as a number; unset and "0" both mean "any"."""
    value = query.get("resourceVersion")
    if value is None or value in ("", "0"):
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request(
            f"resourceVersion: invalid value {value!r}: a decimal resourceVersion is expected"
        ) from None


def dry_run(query: Mapping[str, str]) -> bool:
    value = query.get("dryRun")
    if value is None or value == "":
        return False
    if value != "All":
        raise bad_request(f"dryRun: unsupported value {value!r}: the only supported value is All")
    return True
