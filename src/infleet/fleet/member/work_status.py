"""The status the work applier reports on a Work: Applied and Available, overall and per manifest.

The applier collects one :class:`ManifestResult` per manifest and writes :func:`work_status` through
``patch_status``. Per-manifest conditions follow the object (group, kind, namespace, name), not its
position, so removing a manifest does not reset the others' transition times.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from infleet.api.placement_kubernetes_fleet_io.v1beta1 import work as w
from infleet.fleet.member.availability import Availability
from infleet.kube.conditions import set_condition


@dataclass(frozen=True)
class ManifestResult:
    """One manifest: its identifier (the Work API's, camelCase), whether it applied, and its state."""

    identifier: dict[str, Any]
    applied: bool
    message: str
    available: Availability | None = None
    back_reported: dict[str, Any] | None = None


def identity(identifier: dict[str, Any]) -> tuple[str, str, str, str]:
    """An object's identity across Work generations: the ordinal and version may change, this does not."""
    return (
        str(identifier.get("group") or ""),
        str(identifier.get("kind") or ""),
        str(identifier.get("namespace") or ""),
        str(identifier.get("name") or ""),
    )


def _manifest_conditions(
    result: ManifestResult, previous: list[dict[str, Any]], generation: int | None, now: float
) -> list[dict[str, Any]]:
    conditions = copy.deepcopy(previous)
    if result.applied:
        set_condition(
            conditions, w.WORK_APPLIED, True, w.MANIFEST_APPLIED_REASON, result.message, generation, now
        )
    else:
        reason = w.MANIFEST_APPLY_FAILED_REASON
        set_condition(conditions, w.WORK_APPLIED, False, reason, result.message, generation, now)
    if result.available is None:
        message = "not applied, so not available"
        set_condition(
            conditions, w.WORK_AVAILABLE, False, w.MANIFEST_NOT_APPLIED_REASON, message, generation, now
        )
    else:
        ok = result.available.available
        reason = w.MANIFEST_AVAILABLE_REASON if ok else w.MANIFEST_NOT_AVAILABLE_REASON
        set_condition(conditions, w.WORK_AVAILABLE, ok, reason, result.available.message, generation, now)
    return conditions


def _overall(
    conditions: list[dict[str, Any]], results: Sequence[ManifestResult], generation: int | None, now: float
) -> None:
    total = len(results)
    applied = sum(1 for r in results if r.applied)
    available = sum(1 for r in results if r.available is not None and r.available.available)
    all_applied = applied == total
    reason = w.WORK_APPLIED_REASON if all_applied else w.WORK_APPLY_FAILED_REASON
    message = f"{applied}/{total} manifests applied"
    set_condition(conditions, w.WORK_APPLIED, all_applied, reason, message, generation, now)
    all_available = all_applied and available == total
    reason = w.WORK_AVAILABLE_REASON if all_available else w.WORK_NOT_AVAILABLE_REASON
    message = f"{available}/{total} manifests available"
    set_condition(conditions, w.WORK_AVAILABLE, all_available, reason, message, generation, now)


def work_status(
    results: Sequence[ManifestResult], generation: int | None, now: float
) -> Callable[[dict[str, Any]], None]:
    """A status mutation writing ``results`` into a Work's status (for ``patch_status``)."""

    def mutate(status: dict[str, Any]) -> None:
        previous = {
            identity(entry.get("identifier") or {}): entry.get("conditions") or []
            for entry in status.get("manifestConditions") or []
        }
        entries = []
        for result in results:
            before = previous.get(identity(result.identifier), [])
            entry: dict[str, Any] = {
                "identifier": result.identifier,
                "conditions": _manifest_conditions(result, before, generation, now),
            }
            if result.back_reported is not None:
                entry["backReportedStatus"] = result.back_reported
            entries.append(entry)
        status["manifestConditions"] = entries
        _overall(status.setdefault("conditions", []), results, generation, now)

    return mutate
