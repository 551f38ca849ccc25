"""``meta.k8s.io/v1 Table`` rendering for ``kubectl get`` (``Accept: ...;as=Table``).

List and get handlers call :func:`build_table` with a CRD's printer columns (:meth:`PrinterColumn.from_crd`)
or a built-in kind's :class:`ComputedColumn` list; cells follow the apiextensions table converter.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infleet.apiserver.jsonpath import JsonPath, compile_jsonpath

CellRenderer = Callable[[Mapping[str, Any], datetime], Any]

_NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically."
)
_AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created."
)


@dataclass(frozen=True)
class PrinterColumn:
    """A column read from the object with a JSONPath (CRD ``additionalPrinterColumns``)."""

    name: str
    type: str
    json_path: str
    format: str = ""
    description: str = ""
    priority: int = 0
    _compiled: JsonPath | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", compile_jsonpath(self.json_path))

    @classmethod
    def from_crd(cls, spec: Mapping[str, Any]) -> PrinterColumn:
        """Build from an ``additionalPrinterColumns`` entry; ValueError names the bad column."""
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("additionalPrinterColumns entries need a non-empty name")
        json_path = spec.get("jsonPath")
        if not isinstance(json_path, str):
            raise ValueError(f"additionalPrinterColumns[{name}].jsonPath must be a string")
        column_type = spec.get("type", "string")
        if column_type not in ("integer", "number", "string", "boolean", "date"):
            raise ValueError(
                f"additionalPrinterColumns[{name}].type {column_type!r} must be integer, number, string, "
                "boolean or date"
            )
        try:
            return cls(
                name=name,
                type=str(column_type),
                json_path=json_path,
                format=str(spec.get("format") or ""),
                description=str(spec.get("description") or ""),
                priority=int(spec.get("priority") or 0),
            )
        except ValueError as exc:
            raise ValueError(f"additionalPrinterColumns[{name}].jsonPath: {exc}") from exc

    def render(self, obj: Mapping[str, Any], now: datetime) -> Any:
        assert self._compiled is not None
        return render_cell(self.type, self._compiled.find(obj), now)


@dataclass(frozen=True)
class ComputedColumn:
    """A column computed by code (built-in kinds: READY ``1/1``, STATUS, ...)."""

    name: str
    type: str
    render: CellRenderer
    format: str = ""
    description: str = ""
    priority: int = 0


def default_columns() -> list[PrinterColumn]:
    """The single Age column used when a CRD declares no printer columns."""
    return [PrinterColumn("Age", "date", ".metadata.creationTimestamp", description=_AGE_DESCRIPTION)]


def parse_timestamp(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def human_age(since: datetime, now: datetime) -> str:
    """Kubernetes ``duration.HumanDuration`` of ``now - since``."""
    seconds = int((now - since).total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return _units(minutes, "m", seconds % 60, "s")
    if minutes < 180:
        return f"{minutes}m"
    return _human_hours(minutes)


def _human_hours(minutes: int) -> str:
    """``HumanDuration`` from three hours on: hours, then days, then years."""
    hours = minutes // 60
    if hours < 8:
        return _units(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return _units(days, "d", hours % 24, "h")
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        return _units(years, "y", days % 365, "d")
    return f"{years}y"


def _units(whole: int, unit: str, rest: int, rest_unit: str) -> str:
    """``3h5m``, or ``3h`` when the rest is zero."""
    return f"{whole}{unit}{rest}{rest_unit}" if rest else f"{whole}{unit}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def render_cell(column_type: str, results: list[Any], now: datetime) -> Any:
    """One cell from the JSONPath results, as the apiextensions table converter renders it."""
    if not results or (len(results) == 1 and results[0] is None):
        return None
    if column_type == "date":
        value = results[0]
        parsed = parse_timestamp(value) if isinstance(value, str) else None
        return human_age(parsed, now) if parsed is not None else "<invalid>"
    if column_type == "string":
        return ",".join(_text(v) for v in results)
    value = results[0]
    if column_type == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif column_type == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif column_type == "boolean":
        ok = isinstance(value, bool)
    else:
        ok = True
    return value if ok else None


def _definition(name: str, column_type: str, fmt: str, description: str, priority: int) -> dict[str, Any]:
    return {
        "name": name,
        "type": column_type,
        "format": fmt,
        "description": description,
        "priority": priority,
    }


def build_table(
    items: Sequence[Mapping[str, Any]],
    columns: Sequence[PrinterColumn | ComputedColumn],
    *,
    now: datetime,
    resource_version: str,
    continue_token: str | None = None,
    include_object: str = "Metadata",
    include_definitions: bool = True,
) -> dict[str, Any]:
    """A Table: Name, then ``columns``; ``include_object`` is ``Metadata``, ``Object`` or ``None``."""
    definitions = [_definition("Name", "string", "name", _NAME_DESCRIPTION, 0)]
    definitions += [_definition(c.name, c.type, c.format, c.description, c.priority) for c in columns]
    rows = []
    for item in items:
        metadata = item.get("metadata") or {}
        cells: list[Any] = [metadata.get("name", "")]
        cells += [column.render(item, now) for column in columns]
        row: dict[str, Any] = {"cells": cells}
        if include_object == "Object":
            row["object"] = item
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": metadata,
            }
        rows.append(row)
    meta: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": definitions if include_definitions else [],
        "rows": rows,
    }
