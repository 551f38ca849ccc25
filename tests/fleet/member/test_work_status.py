"""The Work status the applier writes: per-manifest and overall Applied / Available, transition times that
follow the object, and back-reported status."""

from __future__ import annotations

from typing import Any

from infleet.fleet.member.availability import Availability
from infleet.fleet.member.work_status import ManifestResult, work_status
from infleet.kube.conditions import get_condition


def ident(ordinal: int, kind: str, name: str) -> dict[str, Any]:
    return {
        "ordinal": ordinal,
        "group": "",
        "version": "v1",
        "kind": kind,
        "resource": "",
        "namespace": "ns",
        "name": name,
    }


def cond(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any]:
    found = get_condition(conditions, type_)
    assert found is not None
    return found


def test_all_applied_and_available() -> None:
    status: dict[str, Any] = {}
    results = [ManifestResult(ident(0, "ConfigMap", "a"), True, "created", Availability(True, "applied"))]
    work_status(results, 3, 1_750_000_000)(status)
    assert cond(status["conditions"], "Applied")["status"] == "True"
    assert cond(status["conditions"], "Applied")["observedGeneration"] == 3
    assert cond(status["conditions"], "Available")["reason"] == "WorkAvailable"
    (entry,) = status["manifestConditions"]
    assert entry["identifier"]["name"] == "a"
    assert cond(entry["conditions"], "Applied")["reason"] == "ManifestApplied"
    assert "backReportedStatus" not in entry


def test_a_failure_is_reported_on_its_manifest_and_overall() -> None:
    status: dict[str, Any] = {}
    results = [
        ManifestResult(ident(0, "Gizmo", "g"), False, "no such kind"),
        ManifestResult(
            ident(1, "ConfigMap", "a"), True, "created", Availability(True, "applied"), {"state": "x"}
        ),
    ]
    work_status(results, 1, 1_750_000_000)(status)
    failed, fine = status["manifestConditions"]
    assert cond(failed["conditions"], "Applied") | {"lastTransitionTime": None} == {
        "type": "Applied",
        "status": "False",
        "reason": "ManifestApplyFailed",
        "message": "no such kind",
        "observedGeneration": 1,
        "lastTransitionTime": None,
    }
    assert cond(failed["conditions"], "Available")["reason"] == "ManifestNotApplied"
    assert fine["backReportedStatus"] == {"state": "x"}
    assert cond(status["conditions"], "Applied")["message"] == "1/2 manifests applied"
    assert cond(status["conditions"], "Available")["status"] == "False"


def test_transition_times_follow_the_object_when_manifests_move() -> None:
    status: dict[str, Any] = {}
    first = [
        ManifestResult(ident(0, "ConfigMap", "gone"), True, "created", Availability(True, "")),
        ManifestResult(ident(1, "ConfigMap", "kept"), True, "created", Availability(True, "")),
    ]
    work_status(first, 1, 1_750_000_000)(status)
    since = cond(status["manifestConditions"][1]["conditions"], "Applied")["lastTransitionTime"]
    later = [ManifestResult(ident(0, "ConfigMap", "kept"), True, "unchanged", Availability(True, ""))]
    work_status(later, 2, 1_750_000_600)(status)
    (kept,) = status["manifestConditions"]
    assert cond(kept["conditions"], "Applied")["lastTransitionTime"] == since
    assert cond(kept["conditions"], "Applied")["observedGeneration"] == 2
