"""The protobuf field table of the built-in kinds, read from ``protobuf_fields.json``.

``tools/k8s_protobuf_fields.py`` writes the table from the Go struct tags of ``k8s.io/api`` and
``k8s.io/apimachinery`` (its header names the commits). Each message lists its fields as
``[number, json name, type, flags]``:

- type: a scalar (``string``, ``bytes``, ``bool``, ``int32``, ``int64``, ``uint32``, ``uint64``,
  ``float64``), a message (``@core/v1.PodSpec``), a type whose JSON the decoder renders itself
  (``time``, ``microtime``, ``duration``, ``quantity``, ``intorstring``, ``rawjson``),
  ``["map", key, value]`` (repeated key/value entries), or ``["items", element]`` (a message whose
  field 1 holds a list, rendered as that list);
- flags: ``r`` repeated, ``p`` a Go pointer (a zero value sent is kept), ``o`` omitempty and ``z``
  omitzero (a zero value is dropped, as Go's JSON encoder does), ``i`` inline (the message's fields
  belong to the enclosing JSON object).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

TABLE_FILE = "protobuf_fields.json"
FieldType = str | tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a message: where it goes in JSON and how its bytes read."""

    number: int
    json_name: str
    type: FieldType
    repeated: bool
    pointer: bool
    omitempty: bool
    omitzero: bool
    inline: bool

    @property
    def message(self) -> str | None:
        """The message type this field holds, when it holds a described message."""
        if isinstance(self.type, str) and self.type.startswith("@"):
            return self.type[1:]
        return None


@dataclass(frozen=True)
class FieldTable:
    """Messages by name (``apps/v1.Deployment``) and the message of each ``apiVersion``/``kind``."""

    messages: dict[str, dict[int, FieldSpec]]
    kinds: dict[tuple[str, str], str]
    source: dict[str, str]

    def message_of(self, api_version: str, kind: str) -> str | None:
        found = self.kinds.get((api_version, kind))
        if found is None and kind == "DeleteOptions":
            # Every group version registers DeleteOptions; the body may name any of them.
            found = self.kinds.get(("meta.k8s.io/v1", kind))
        return found


def _frozen(value: Any) -> FieldType:
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return str(value)


def _spec(entry: list[Any]) -> FieldSpec:
    number, json_name, field_type, flags = entry
    return FieldSpec(
        number=int(number),
        json_name=str(json_name),
        type=_frozen(field_type),
        repeated="r" in flags,
        pointer="p" in flags,
        omitempty="o" in flags,
        omitzero="z" in flags,
        inline="i" in flags,
    )


@functools.cache
def field_table() -> FieldTable:
    """The table, read once per process (about 400 messages)."""
    text = (resources.files("infleet.apiserver") / TABLE_FILE).read_text(encoding="utf-8")
    document = json.loads(text)
    messages = {
        name: {spec.number: spec for spec in map(_spec, entries)}
        for name, entries in document["messages"].items()
    }
    kinds = {
        (api_version, kind): message
        for api_version, by_kind in document["kinds"].items()
        for kind, message in by_kind.items()
    }
    return FieldTable(messages, kinds, dict(document["source"]))
