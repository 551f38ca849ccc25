"""Objects as CRD validation rules see them: ``self`` and ``oldSelf`` typed by the structural schema.

:mod:`cel_rules` converts the value at each schema node with :func:`to_cel` before it evaluates the
node's rules, and sizes it with :func:`node_count` to bound what a rule may cost. The mapping follows
kube-apiserver: integer -> int, number -> double, declared property names escaped, root metadata cut down.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Property names CEL would parse as keywords; kube-apiserver exposes them as ``__name__``.
_RESERVED = frozenset(
    {
        "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if",
        "import", "let", "loop", "package", "namespace", "return", "var", "void", "while",
    }
)  # fmt: skip
_ESCAPABLE = re.compile(r"^[a-zA-Z_.\-/][a-zA-Z0-9_.\-/]*$")
# At the resource root, rules see only the metadata that is known before the object is stored.
_ROOT_METADATA = ("name", "generateName")
_NO_SCHEMA: Mapping[str, Any] = {}


def escape_property(name: str) -> str:
    """A declared property's name in CEL: ``namespace`` -> ``__namespace__``, ``a-b`` -> ``a__dash__b``."""
    if name in _RESERVED:
        return f"__{name}__"
    if not _ESCAPABLE.match(name):
        return name  # kube-apiserver makes such a property unreachable; indexing with self['x y'] still works
    return (
        name.replace("__", "__underscores__")
        .replace(".", "__dot__")
        .replace("-", "__dash__")
        .replace("/", "__slash__")
    )


def root_value(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The whole object as a root rule's ``self``: ``metadata`` holds only name and generateName."""
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    return {**obj, "metadata": {key: metadata[key] for key in _ROOT_METADATA if key in metadata}}


def to_cel(value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` with the CEL types its schema declares; undeclared (preserved) fields stay as JSON."""
    if isinstance(value, dict):
        return _object(value, schema)
    if isinstance(value, list):
        items = schema.get("items")
        item_schema = items if isinstance(items, Mapping) else _NO_SCHEMA
        return [to_cel(item, item_schema) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    declared = schema.get("type")
    # JSON does not tell 1 from 1.0; the schema does, and CEL keeps int and double apart.
    if declared == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if declared == "number" and isinstance(value, int):
        return float(value)
    return value


def _object(value: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else _NO_SCHEMA
    additional = schema.get("additionalProperties")
    additional = additional if isinstance(additional, Mapping) else _NO_SCHEMA
    out: dict[str, Any] = {}
    for key, item in value.items():
        declared = properties.get(key)
        if isinstance(declared, Mapping):
            out[escape_property(key)] = to_cel(item, declared)
        else:
            out[key] = to_cel(item, additional)
    return out


def node_count(value: Any, cap: int) -> int:
    """How many JSON nodes ``value`` holds, counting stops past ``cap`` (a bound, never the whole walk)."""
    count = 0
    pending = [value]
    while pending and count <= cap:
        node = pending.pop()
        count += 1
        if isinstance(node, dict):
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return count
