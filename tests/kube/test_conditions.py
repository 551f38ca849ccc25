"""Conditions: lastTransitionTime moves only when status changes; observedGeneration; lookups."""

from __future__ import annotations

from typing import Any

import pytest

from infleet.kube.conditions import get_condition, is_true, set_condition, set_object_condition


def test_transition_time_changes_only_with_status() -> None:
    conditions: list[dict[str, Any]] = []
    assert set_condition(conditions, "Ready", False, "Starting", now=100)
    first = get_condition(conditions, "Ready")
    assert first is not None
    assert first["lastTransitionTime"] == "1970-01-01T00:01:40Z"
    assert not set_condition(conditions, "Ready", False, "Starting", now=200), "nothing changed"
    assert set_condition(conditions, "Ready", False, "StillStarting", "pulling", now=300)
    assert first["lastTransitionTime"] == "1970-01-01T00:01:40Z", "reason changed, status did not"
    assert first["message"] == "pulling"
    assert set_condition(conditions, "Ready", True, "Running", now=400)
    assert first["lastTransitionTime"] == "1970-01-01T00:06:40Z"
    assert is_true(conditions, "Ready")
    assert not is_true(conditions, "Missing")
    assert len(conditions) == 1


def test_object_condition_records_generation() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "m", "generation": 3}}
    assert set_object_condition(obj, "Available", "Unknown", "Pending", now=0)
    assert obj["status"]["conditions"][0]["observedGeneration"] == 3
    obj["metadata"]["generation"] = 4
    assert set_object_condition(obj, "Available", "Unknown", "Pending", now=10), (
        "a new generation is a change"
    )
    assert obj["status"]["conditions"][0]["observedGeneration"] == 4


def test_rejects_bad_status() -> None:
    with pytest.raises(ValueError, match="True, False or Unknown"):
        set_condition([], "Ready", "yes", "R")
