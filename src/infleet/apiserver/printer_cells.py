"""Small formatting rules shared by the table printers of built-in kinds.

They mirror the helpers kube-apiserver's printers use (``labels.FormatLabels``,
``metav1.FormatLabelSelector``, the container layout of ``-o wide``, ``<none>`` for empty cells), so the
text ``kubectl get`` shows is the same as against a real cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from infleet.apiserver.selectors import LabelSelector
from infleet.apiserver.tables import human_age, parse_timestamp

NONE = "<none>"


def dig(obj: Any, *path: str) -> Any:
    """``obj[path[0]][path[1]]...``, or None where a step is missing or not an object."""
    node: Any = obj
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def items(value: Any) -> list[Any]:
    """``value`` when it is a list, else an empty one (a wrong type was reported on write)."""
    return value if isinstance(value, list) else []


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def or_none(value: Any) -> str:
    return str(value) if value not in (None, "") else NONE


def format_labels(labels: Any) -> str:
    """``labels.FormatLabels``: ``k=v`` pairs sorted by key, or ``<none>``."""
    pairs = sorted(mapping(labels).items())
    return ",".join(f"{key}={value}" for key, value in pairs) or NONE


def format_selector(selector: Any) -> str:
    """``metav1.FormatLabelSelector``: the selector as text, ``<none>`` when empty or absent."""
    if not isinstance(selector, Mapping):
        return NONE
    try:
        text = str(LabelSelector.from_dict(selector))
    except ValueError:
        return "<error>"
    return text or NONE


def container_cells(pod_template: Any) -> tuple[str, str]:
    """Container names and images of a pod template, each comma-joined (the wide columns)."""
    containers = [mapping(c) for c in items(dig(pod_template, "spec", "containers"))]
    names = ",".join(str(c.get("name", "")) for c in containers)
    images = ",".join(str(c.get("image", "")) for c in containers)
    return names, images


def since(timestamp: Any, now: datetime) -> str | None:
    """Human age of an RFC 3339 timestamp, or None when absent or unreadable."""
    parsed = parse_timestamp(timestamp) if isinstance(timestamp, str) else None
    return human_age(parsed, now) if parsed is not None else None


def first_n(values: list[str], total: int, limit: int = 3, empty: str = NONE) -> str:
    """The first ``limit`` values comma-joined, with `` + N more...`` when there are more."""
    text = ",".join(values[:limit])
    if total > limit:
        return f"{text} + {total - limit} more..."
    return text or empty
