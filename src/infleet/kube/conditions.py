"""Kubernetes-style ``status.conditions``: set (lastTransitionTime moves only when status changes), get,
is_true. Works on the list of condition dicts; :func:`set_object_condition` fills observedGeneration
from the object. Every Infleet reconciler reports through these.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def timestamp(seconds: float | None = None) -> str:
    """RFC 3339 with a ``Z``, second precision, as the API writes metav1.Time."""
    moment = datetime.now(UTC) if seconds is None else datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str | None) -> float | None:
    """Seconds since the epoch of an RFC 3339 time (metav1.Time); None when absent or malformed."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def get_condition(conditions: list[dict[str, Any]] | None, type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions or [] if c.get("type") == type_), None)


def is_true(conditions: list[dict[str, Any]] | None, type_: str) -> bool:
    condition = get_condition(conditions, type_)
    return condition is not None and condition.get("status") == "True"


def set_condition(
    conditions: list[dict[str, Any]],
    type_: str,
    status: bool | str,
    reason: str,
    message: str = "",
    observed_generation: int | None = None,
    now: float | None = None,
) -> bool:
    """Set or add the condition in place; returns whether anything changed.

    ``lastTransitionTime`` is set only when ``status`` changes, so it says how long the state has held.
    """
    value = ("True" if status else "False") if isinstance(status, bool) else status
    if value not in ("True", "False", "Unknown"):
        raise ValueError(f"condition {type_}: status must be True, False or Unknown, not {value!r}")
    wanted: dict[str, Any] = {"type": type_, "status": value, "reason": reason, "message": message}
    if observed_generation is not None:
        wanted["observedGeneration"] = observed_generation
    current = get_condition(conditions, type_)
    if current is None:
        conditions.append({**wanted, "lastTransitionTime": timestamp(now)})
        return True
    changed = any(current.get(field) != value for field, value in wanted.items())
    if current.get("status") != value:
        current["lastTransitionTime"] = timestamp(now)
    current.update(wanted)
    return changed


def set_object_condition(
    obj: dict[str, Any],
    type_: str,
    status: bool | str,
    reason: str,
    message: str = "",
    now: float | None = None,
) -> bool:
    """:func:`set_condition` on ``obj["status"]["conditions"]`` with the object's generation."""
    conditions = obj.setdefault("status", {}).setdefault("conditions", [])
    generation = (obj.get("metadata") or {}).get("generation")
    return set_condition(conditions, type_, status, reason, message, generation, now)
