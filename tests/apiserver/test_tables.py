from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infleet.apiserver.tables import ComputedColumn, PrinterColumn, build_table, default_columns, human_age

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=-5), "<invalid>"),
        (timedelta(seconds=-1), "0s"),
        (timedelta(seconds=5), "5s"),
        (timedelta(seconds=119), "119s"),
        (timedelta(minutes=3, seconds=20), "3m20s"),
        (timedelta(minutes=3), "3m"),
        (timedelta(minutes=42, seconds=10), "42m"),
        (timedelta(hours=3, minutes=5), "3h5m"),
        (timedelta(hours=5), "5h"),
        (timedelta(hours=20, minutes=30), "20h"),
        (timedelta(days=2, hours=3), "2d3h"),
        (timedelta(days=30), "30d"),
        (timedelta(days=365 * 3 + 10), "3y10d"),
        (timedelta(days=365 * 10), "10y"),
    ],
)
def test_human_age(delta: timedelta, expected: str) -> None:
    assert human_age(NOW - delta, NOW) == expected


def item(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "llm.example.com/v1alpha1",
        "kind": "ModelServer",
        "metadata": {"name": name, "creationTimestamp": "2026-03-01T11:00:00Z", "labels": {"a": "b"}},
        **extra,
    }


def test_crd_printer_columns() -> None:
    columns = [
        PrinterColumn.from_crd({"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}),
        PrinterColumn.from_crd(
            {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'}
        ),
        PrinterColumn.from_crd(
            {"name": "Models", "type": "string", "jsonPath": ".spec.models[*]", "priority": 1}
        ),
        PrinterColumn.from_crd({"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"}),
        PrinterColumn.from_crd({"name": "Started", "type": "date", "jsonPath": ".status.started"}),
    ]
    rows = [
        item(
            "a",
            spec={"replicas": 2, "models": ["m1", "m2"], "paused": False},
            status={"conditions": [{"type": "Ready", "status": "True"}], "started": "2026-03-01T11:57:00Z"},
        ),
        item("b", spec={"replicas": "two"}, status={"started": "garbage"}),
    ]
    table = build_table(rows, columns, now=NOW, resource_version="42", continue_token="c1")
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42", "continue": "c1"}
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Replicas",
        "Ready",
        "Models",
        "Paused",
        "Started",
    ]
    assert table["columnDefinitions"][0]["format"] == "name"
    assert table["columnDefinitions"][3]["priority"] == 1
    assert table["rows"][0]["cells"] == ["a", 2, "True", "m1,m2", False, "3m"]
    assert table["rows"][1]["cells"] == ["b", None, None, None, None, "<invalid>"]
    assert table["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": rows[0]["metadata"],
    }


def test_default_age_column_and_include_object_modes() -> None:
    rows = [item("a")]
    table = build_table(rows, default_columns(), now=NOW, resource_version="1", include_object="Object")
    assert table["rows"][0]["cells"] == ["a", "60m"]
    assert table["columnDefinitions"][1]["type"] == "date"
    assert table["rows"][0]["object"] == rows[0]
    table = build_table(
        rows,
        default_columns(),
        now=NOW,
        resource_version="1",
        include_object="None",
        include_definitions=False,
    )
    assert "object" not in table["rows"][0]
    assert table["columnDefinitions"] == []


def test_computed_columns() -> None:
    def ready(obj: Any, now: datetime) -> str:
        return f"{obj['status']['readyReplicas']}/{obj['spec']['replicas']}"

    table = build_table(
        [item("d", spec={"replicas": 2}, status={"readyReplicas": 1})],
        [ComputedColumn("Ready", "string", ready)],
        now=NOW,
        resource_version="1",
    )
    assert table["rows"][0]["cells"] == ["d", "1/2"]


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "string", "jsonPath": ".a"},
        {"name": "X", "type": "list", "jsonPath": ".a"},
        {"name": "X", "type": "string", "jsonPath": "a"},
    ],
)
def test_bad_printer_columns(spec: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="additionalPrinterColumns"):
        PrinterColumn.from_crd(spec)
