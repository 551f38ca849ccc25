"""What a list or watch asks for: namespace, label and field selectors, and ``continue`` tokens.

The cluster's list and the watch stream both filter with :func:`selector_filter`, so a watch and the
list it resumes from always agree on what is selected.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from infleet.apiserver.errors import bad_request, expired
from infleet.apiserver.jsonpath import compile_jsonpath
from infleet.apiserver.resources import ResourceType
from infleet.apiserver.selectors import FieldSelector, LabelSelector


@dataclass(frozen=True)
class Selection:
    """Which objects a list or watch asks for."""

    namespace: str | None = None
    labels: LabelSelector | None = None
    fields: FieldSelector | None = None


def selector_filter(resource: ResourceType, selection: Selection) -> Callable[[Mapping[str, Any]], bool]:
    field_values = field_reader(resource, selection.fields)

    def selects(obj: Mapping[str, Any]) -> bool:
        metadata = obj.get("metadata") or {}
        if selection.namespace is not None and metadata.get("namespace", "") != selection.namespace:
            return False
        if selection.labels is not None and not selection.labels.matches(metadata.get("labels") or {}):
            return False
        return selection.fields is None or selection.fields.matches(field_values(obj))

    return selects


def field_reader(
    resource: ResourceType, fields: FieldSelector | None
) -> Callable[[Mapping[str, Any]], dict[str, str]]:
    """Reads the field-selector labels a selector uses; unsupported labels are a 400."""
    wanted = fields.fields if fields is not None else frozenset()
    paths = {}
    for label in wanted:
        if label in ("metadata.name", "metadata.namespace"):
            continue
        path = resource.selectable_fields.get(label)
        if path is None:
            raise bad_request(f"field label not supported: {label}")
        paths[label] = compile_jsonpath(path)

    def read(obj: Mapping[str, Any]) -> dict[str, str]:
        metadata = obj.get("metadata") or {}
        values = {
            "metadata.name": metadata.get("name", ""),
            "metadata.namespace": metadata.get("namespace", ""),
        }
        for label, path in paths.items():
            found = path.find(obj)
            values[label] = "" if not found or found[0] is None else _field_text(found[0])
        return values

    return read


def _field_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_continue(rv: int, last_key: tuple[str, str]) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": list(last_key)})
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_continue(token: str, oldest: int) -> tuple[int, tuple[str, str]]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        rv = int(data["rv"])
        start = (str(data["start"][0]), str(data["start"][1]))
    except (ValueError, KeyError, TypeError, IndexError):
        raise bad_request("continue key is not valid: send the token of the previous list response") from None
    if rv < oldest:
        raise expired("The provided continue parameter is too old to display a consistent list result.")
    return rv, start
