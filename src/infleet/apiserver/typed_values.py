"""Objects walked together with their schema, as structured-merge-diff walks typed values.

The schema says what each value is: a granular or atomic map (``x-kubernetes-map-type``), an atomic
list, a set or a keyed list (``x-kubernetes-list-type`` / ``-list-map-keys``, or a built-in kind's patch
strategy and merge key), or a scalar. Without a schema, maps are granular and lists atomic. On that,
this module builds what server-side apply and field ownership need: the field set of a value, the
comparison of two versions, the apply merge, and the removal of field sets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infleet.apiserver.field_set import FieldSet, Path, field_element, key_element, value_element
from infleet.apiserver.schema_node import SchemaNode

_MISSING: Any = object()
# kube-apiserver's schemas default these keys of keyed lists (ports are keyed by port and protocol);
# the packaged schemas of the built-in kinds carry no defaults, so they are spelled out here.
_KEY_DEFAULTS = {"protocol": "TCP"}


class TypedValueError(ValueError):
    """A value that does not fit its schema's list semantics (a keyed item without its key)."""


@dataclass(frozen=True)
class ListShape:
    kind: str  # "atomic", "set" or "map"
    keys: tuple[str, ...] = ()


_ATOMIC = ListShape("atomic")
_SET = ListShape("set")


def list_shape(schema: SchemaNode | None) -> ListShape:
    """How a list merges: the CRD extension wins; built-in kinds fall back to their patch strategy."""
    if schema is None:
        return _ATOMIC
    declared = schema.list_type
    if declared == "map":
        return ListShape("map", schema.list_map_keys) if schema.list_map_keys else _ATOMIC
    if declared == "set":
        return _SET
    if declared is None and "merge" in schema.patch_strategies:
        key = schema.patch_merge_key
        return ListShape("map", (key,)) if key else _SET
    return _ATOMIC


def atomic_map(schema: SchemaNode | None) -> bool:
    return schema is not None and schema.extension("x-kubernetes-map-type") == "atomic"


def _declared(schema: SchemaNode | None, name: str) -> bool:
    return schema is not None and schema.property(name) is not None


def _child(schema: SchemaNode | None, name: str) -> SchemaNode | None:
    return schema.child(name) if schema is not None else None


def _items(schema: SchemaNode | None) -> SchemaNode | None:
    return schema.items() if schema is not None else None


def item_element(item: Any, shape: ListShape, items: SchemaNode | None, strict: bool) -> str:
    """The path element of one item of a set or keyed list.

    A keyed item missing a key takes the key's schema default (``protocol: TCP`` of container ports);
    without one, an applied configuration is rejected (``strict``) and a stored object keys it as null.
    """
    if shape.kind == "set":
        return value_element(item)
    if not isinstance(item, dict):
        if strict:
            raise TypedValueError("an element of a keyed list must be an object")
        return value_element(item)
    keys: dict[str, Any] = {}
    for name in shape.keys:
        if name in item:
            keys[name] = item[name]
            continue
        key_schema = items.property(name) if items is not None else None
        if key_schema is not None and "default" in key_schema.raw:
            keys[name] = key_schema.raw["default"]
        elif name in _KEY_DEFAULTS:
            keys[name] = _KEY_DEFAULTS[name]
        elif strict:
            raise TypedValueError(
                f"associative list with keys has an element that omits key field {name!r} "
                "(and doesn't have default value)"
            )
        else:
            keys[name] = None
    return key_element(keys)


def _element_path(path: Path) -> str:
    from infleet.apiserver.field_set import path_string

    return path_string(path) or "."


# -- field sets --------------------------------------------------------------------------------------


def to_field_set(value: Any, schema: SchemaNode | None) -> FieldSet:
    """The fields an applied configuration sets: scalars, atomic values, list items, map entries.

    Declared struct fields are not members of their own (their leaves are), except when empty or null.
    """
    out = FieldSet()
    _collect(value, schema, out, ())
    return out


def _collect(value: Any, schema: SchemaNode | None, out: FieldSet, path: Path) -> None:
    if isinstance(value, dict):
        if atomic_map(schema):
            out.insert(path)
            return
        for name, child_value in value.items():
            child_path = (*path, field_element(name))
            _collect(child_value, _child(schema, name), out, child_path)
            if (
                child_value is None
                or (isinstance(child_value, dict) and not child_value)
                or not _declared(schema, name)
            ):
                out.insert(child_path)
    elif isinstance(value, list):
        shape = list_shape(schema)
        if shape.kind == "atomic":
            out.insert(path)
            return
        items = _items(schema)
        for item in value:
            try:
                element = item_element(item, shape, items, strict=True)
            except TypedValueError as error:
                raise TypedValueError(f"{_element_path(path)}: {error}") from None
            item_path = (*path, element)
            _collect(item, items, out, item_path)
            out.insert(item_path)
    elif path:
        out.insert(path)


# -- comparison --------------------------------------------------------------------------------------


@dataclass
class Comparison:
    """What changed between two versions of an object, as field sets."""

    added: FieldSet = field(default_factory=FieldSet)
    modified: FieldSet = field(default_factory=FieldSet)
    removed: FieldSet = field(default_factory=FieldSet)

    def changed(self) -> FieldSet:
        return self.added.union(self.modified)


def compare(old: Any, new: Any, schema: SchemaNode | None, struct_members: bool = True) -> Comparison:
    """Fields added, modified and removed from ``old`` to ``new``.

    Added and removed cover every node of a subtree that appears or goes (the item itself and its
    fields); modified covers leaves only. ``struct_members=False`` leaves declared struct fields out
    as nodes of their own, as for built-in kinds, whose Go structs always exist even when empty.
    """
    result = Comparison()
    _compare(old, new, schema, result, (), struct_members)
    return result


def _compare(
    old: Any, new: Any, schema: SchemaNode | None, result: Comparison, path: Path, struct_members: bool
) -> None:
    if type(old) is type(new) and old == new:
        return  # one C-level comparison spares walking what a write left alone
    if isinstance(old, dict) and isinstance(new, dict):
        if atomic_map(schema) or (not old and not new):
            if old != new and path:
                result.modified.insert(path)
        else:
            _compare_maps(old, new, schema, result, path, struct_members)
    elif isinstance(old, list) and isinstance(new, list):
        shape = list_shape(schema)
        if shape.kind == "atomic" or (not old and not new):
            if old != new:
                result.modified.insert(path)
        else:
            _compare_lists(old, new, shape, _items(schema), result, path, struct_members)
    elif old != new or type(old) is not type(new):
        _replaced(old, new, schema, result, path)


def _replaced(old: Any, new: Any, schema: SchemaNode | None, result: Comparison, path: Path) -> None:
    """A scalar changed, or a value changed its type: the path is modified, nested nodes come and go."""
    if not path:
        return
    if isinstance(old, dict | list):
        _subtree(old, schema, _parent(result.removed, path), path[-1], False)
    if isinstance(new, dict | list):
        _subtree(new, schema, _parent(result.added, path), path[-1], False)
    result.modified.insert(path)


def _compare_maps(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    schema: SchemaNode | None,
    result: Comparison,
    path: Path,
    struct_members: bool,
) -> None:
    for name in {**old, **new}:
        before, after = old.get(name, _MISSING), new.get(name, _MISSING)
        if type(before) is type(after) and before == after:
            continue
        element = "f:" + name
        if not isinstance(before, dict | list) and not isinstance(after, dict | list):
            # Two scalars (or one and nothing): no schema needed to tell what changed.
            if before is _MISSING:
                _parent(result.added, (*path, element)).members.add(element)
            elif after is _MISSING:
                _parent(result.removed, (*path, element)).members.add(element)
            else:
                result.modified.insert((*path, element))
            continue
        child_schema = _child(schema, name)
        if before is _MISSING:
            member = _node(schema, name, after, struct_members, child_schema)
            parent = _parent(result.added, (*path, element))
            _subtree(after, child_schema, parent, element, member, struct_members)
        elif after is _MISSING:
            member = _node(schema, name, before, struct_members, child_schema)
            parent = _parent(result.removed, (*path, element))
            _subtree(before, child_schema, parent, element, member, struct_members)
        else:
            _compare(before, after, child_schema, result, (*path, element), struct_members)


def _compare_lists(
    old: list[Any],
    new: list[Any],
    shape: ListShape,
    items: SchemaNode | None,
    result: Comparison,
    path: Path,
    struct_members: bool,
) -> None:
    # reversed(): the first of duplicate items wins, as it does when merging.
    before_items = {item_element(item, shape, items, strict=False): item for item in reversed(old)}
    after_items = {item_element(item, shape, items, strict=False): item for item in reversed(new)}
    for element, item in after_items.items():
        item_path = (*path, element)
        previous = before_items.get(element, _MISSING)
        if previous is _MISSING:
            _subtree(item, items, _parent(result.added, item_path), element, True, struct_members)
        else:
            _compare(previous, item, items, result, item_path, struct_members)
    for element, item in before_items.items():
        if element not in after_items:
            item_path = (*path, element)
            _subtree(item, items, _parent(result.removed, item_path), element, True, struct_members)


def _node(
    schema: SchemaNode | None, name: str, value: Any, struct_members: bool, child: SchemaNode | None
) -> bool:
    """Whether a field appearing or going counts as a node of its own (see :func:`compare`)."""
    if struct_members or not isinstance(value, dict) or not value or child is None:
        return True
    is_struct = "properties" in child.raw and _declared(schema, name)
    return not is_struct or atomic_map(child)


def _parent(root: FieldSet, path: Path) -> FieldSet:
    """The trie node holding the last element of ``path``, created on the way (it gets filled)."""
    node = root
    for element in path[:-1]:
        found = node.children.get(element)
        if found is None:
            found = node.children[element] = FieldSet()
        node = found
    return node


def _below(parent: FieldSet, element: str) -> FieldSet:
    """The child node of ``parent`` at ``element``, created empty (the caller fills it)."""
    node = parent.children.get(element)
    if node is None:
        node = parent.children[element] = FieldSet()
    return node


def _subtree(
    value: Any,
    schema: SchemaNode | None,
    parent: FieldSet,
    element: str,
    member: bool,
    struct_members: bool = True,
) -> None:
    """Every node of ``value`` (at ``element`` under ``parent``): itself, its fields and its items."""
    if member:
        parent.members.add(element)
    if isinstance(value, dict):
        if not value or atomic_map(schema):
            parent.members.add(element)
            return
        node = _below(parent, element)
        for name, child_value in value.items():
            if not isinstance(child_value, dict | list):
                node.members.add("f:" + name)  # a scalar leaf needs no schema
                continue
            child = _child(schema, name)
            child_member = _node(schema, name, child_value, struct_members, child)
            _subtree(child_value, child, node, "f:" + name, child_member, struct_members)
    elif isinstance(value, list):
        shape = list_shape(schema)
        if not value or shape.kind == "atomic":
            parent.members.add(element)
            return
        node = _below(parent, element)
        items = _items(schema)
        for item in value:
            _subtree(item, items, node, item_element(item, shape, items, strict=False), True, struct_members)
    else:
        parent.members.add(element)


# -- merge and removal -------------------------------------------------------------------------------


def merge(live: Any, applied: Any, schema: SchemaNode | None) -> Any:
    """``applied`` merged into ``live``: granular maps and keyed lists merge, everything else replaces.

    A null in ``applied`` removes the field (kube-apiserver drops nulls when decoding the result).
    """
    if isinstance(applied, dict):
        if not isinstance(live, dict) or atomic_map(schema):
            return _without_nulls(applied)
        result = dict(live)
        for name, value in applied.items():
            if value is None:
                result.pop(name, None)
            else:
                result[name] = merge(live.get(name, _MISSING), value, _child(schema, name))
        return result
    if isinstance(applied, list):
        shape = list_shape(schema)
        if shape.kind == "atomic" or not isinstance(live, list):
            return _without_nulls(applied)
        return _merge_items(live, applied, shape, _items(schema))
    return applied


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _merge_items(
    live: list[Any], applied: list[Any], shape: ListShape, items: SchemaNode | None
) -> list[Any]:
    """Merge two keyed lists or sets as structured-merge-diff orders them.

    Items in both lists come in the applied order, new items where the applied list puts them, and an
    item only in the live list stays ahead of the shared items that followed it there.
    """
    live_keys = [item_element(item, shape, items, strict=False) for item in live]
    applied_keys = [item_element(item, shape, items, strict=True) for item in applied]
    live_by_key: dict[str, Any] = {}
    for element, item in zip(live_keys, live, strict=True):
        live_by_key.setdefault(element, item)
    applied_by_key = dict(zip(applied_keys, applied, strict=True))
    shared = [element for element in dict.fromkeys(applied_keys) if element in live_by_key]
    out: list[Any] = []
    emitted: set[str] = set()
    next_shared = 0

    def emit(element: str) -> None:
        nonlocal next_shared
        if element not in emitted:
            emitted.add(element)
            out.append(merge(live_by_key.get(element, _MISSING), applied_by_key[element], items))
        if next_shared < len(shared) and shared[next_shared] == element:
            next_shared += 1

    i = j = 0
    while i < len(live_keys) or j < len(applied_keys):
        if i < len(live_keys):
            element = live_keys[i]
            if j < len(applied_keys) and element == applied_keys[j]:
                emit(element)
                i, j = i + 1, j + 1
                continue
            if element not in applied_by_key:
                out.append(live[i])
                i += 1
                continue
            # A shared item waits for its turn in the applied order.
            waiting = next_shared < len(shared) and shared[next_shared] != element
            if element in emitted or (waiting and j < len(applied_keys)):
                i += 1
                continue
        emit(applied_keys[j])
        j += 1
    return out


def remove_fields(value: Any, fields: FieldSet, schema: SchemaNode | None) -> Any:
    """``value`` without the members of ``fields`` (each with everything under it)."""
    if fields.empty():
        return value
    if isinstance(value, dict):
        if atomic_map(schema):
            return value
        result: dict[str, Any] = {}
        for name, child_value in value.items():
            element = field_element(name)
            if element in fields.members:
                continue
            below = fields.children.get(element)
            result[name] = (
                child_value if below is None else remove_fields(child_value, below, _child(schema, name))
            )
        return result
    if isinstance(value, list):
        shape = list_shape(schema)
        if shape.kind == "atomic":
            return value
        items = _items(schema)
        kept: list[Any] = []
        for item in value:
            element = item_element(item, shape, items, strict=False)
            if element in fields.members:
                continue
            below = fields.children.get(element)
            kept.append(item if below is None else remove_fields(item, below, items))
        return kept
    return value


def with_named_fields(fields: FieldSet, schema: SchemaNode | None) -> FieldSet:
    """``fields`` plus every declared struct field that has members below it, as a member itself.

    Pruning compares sets this way so that a struct nobody owns a field of any more goes with its fields.
    """
    members = set(fields.members)
    children: dict[str, FieldSet] = {}
    for element, below in fields.children.items():
        if element.startswith("f:"):
            name = element[2:]
            if _declared(schema, name):
                members.add(element)
            children[element] = with_named_fields(below, _child(schema, name))
        else:
            children[element] = with_named_fields(below, _items(schema))
    return FieldSet(members, children)
