"""Navigation over an OpenAPI v3 schema with ``$ref`` resolution and the ``x-kubernetes-*`` extensions.

Strategic merge patch, server-side apply and validation walk objects and schemas together through
:class:`SchemaNode`, so each of them reads list strategies and merge keys from the same place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_EMPTY: Mapping[str, Mapping[str, Any]] = {}


def ref_name(ref: str) -> str:
    """``#/components/schemas/X``, ``#/$defs/X`` or ``/api/_definitions.json#/$defs/X`` -> ``X``."""
    return ref.rsplit("/", 1)[-1]


def resolve_schema(
    schema: Mapping[str, Any], definitions: Mapping[str, Mapping[str, Any]], depth: int = 0
) -> Mapping[str, Any]:
    """Follow ``$ref`` (and ``allOf: [{$ref}]`` wrappers); sibling keys override the referenced schema."""
    ref = schema.get("$ref")
    target: Mapping[str, Any] | None = None
    if isinstance(ref, str):
        target = definitions.get(ref_name(ref))
    else:
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], Mapping):
            only = all_of[0]
            if isinstance(only.get("$ref"), str):
                target = definitions.get(ref_name(only["$ref"]))
    if target is None or depth > 32:
        return schema
    siblings = {k: v for k, v in schema.items() if k not in ("$ref", "allOf")}
    return {**resolve_schema(target, definitions, depth + 1), **siblings}


class SchemaNode:
    """One resolved schema node; children are resolved lazily and cached."""

    __slots__ = ("_children", "_definitions", "_raw")

    def __init__(
        self, schema: Mapping[str, Any], definitions: Mapping[str, Mapping[str, Any]] | None = None
    ) -> None:
        self._definitions = definitions if definitions is not None else _EMPTY
        self._raw = resolve_schema(schema, self._definitions)
        self._children: dict[tuple[str, str], SchemaNode | None] = {}

    @property
    def raw(self) -> Mapping[str, Any]:
        return self._raw

    def _sub(self, slot: str, key: str, schema: Any) -> SchemaNode | None:
        cache_key = (slot, key)
        if cache_key not in self._children:
            node = SchemaNode(schema, self._definitions) if isinstance(schema, Mapping) else None
            self._children[cache_key] = node
        return self._children[cache_key]

    def items(self) -> SchemaNode | None:
        return self._sub("i", "", self._raw.get("items"))

    def additional_properties(self) -> SchemaNode | None:
        return self._sub("a", "", self._raw.get("additionalProperties"))

    def child(self, key: str) -> SchemaNode | None:
        found = self.property(key)
        return found if found is not None else self.additional_properties()

    def extension(self, name: str) -> Any:
        return self._raw.get(name)

    @property
    def type_name(self) -> str | None:
        """The declared type, ignoring a ``"null"`` alternative (``["string", "null"]`` -> ``string``)."""
        declared = self._raw.get("type")
        if isinstance(declared, list):
            real = [t for t in declared if t != "null"]
            return str(real[0]) if real else None
        return str(declared) if isinstance(declared, str) else None

    @property
    def patch_strategies(self) -> frozenset[str]:
        strategy = self._raw.get("x-kubernetes-patch-strategy")
        if not isinstance(strategy, str):
            return frozenset()
        return frozenset(part.strip() for part in strategy.split(",") if part.strip())

    @property
    def patch_merge_key(self) -> str | None:
        key = self._raw.get("x-kubernetes-patch-merge-key")
        return key if isinstance(key, str) and key else None

    @property
    def list_type(self) -> str | None:
        value = self._raw.get("x-kubernetes-list-type")
        return value if isinstance(value, str) else None

    @property
    def list_map_keys(self) -> tuple[str, ...]:
        keys = self._raw.get("x-kubernetes-list-map-keys")
        return tuple(str(k) for k in keys) if isinstance(keys, list) else ()

    # Defined last: the name shadows the `property` builtin for the rest of the class body.
    def property(self, name: str) -> SchemaNode | None:
        properties = self._raw.get("properties")
        if not isinstance(properties, Mapping) or name not in properties:
            return None
        return self._sub("p", name, properties[name])

    def __repr__(self) -> str:
        return f"SchemaNode(type={self.type_name!r}, keys={sorted(self._raw)[:8]!r})"
