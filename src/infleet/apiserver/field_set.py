"""Sets of field paths, the ownership unit of server-side apply, and their FieldsV1 encoding.

A path is a tuple of path elements spelled as FieldsV1 keys: ``f:<field>``, ``k:<json of key fields>``,
``v:<json value>`` and ``i:<index>``. A :class:`FieldSet` is a trie of them: ``members`` are the paths
that end at this node, ``children`` the subtries below it. ``managed_fields`` and ``server_side_apply``
combine these sets; no Python library implements structured-merge-diff's sets, hence this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

Path = tuple[str, ...]

_KINDS = "fkvi"


def _order(element: str) -> tuple[int, str]:
    """Field names sort before keys, keys before values, values before indexes (as structured-merge-diff)."""
    return (_KINDS.find(element[:1]), element)


class FieldSet:
    """An immutable-by-convention trie of field paths; operations return new sets.

    Invariant: no child is empty, so emptiness is a constant-time check.
    """

    __slots__ = ("children", "members")

    def __init__(
        self, members: frozenset[str] | set[str] | None = None, children: dict[str, FieldSet] | None = None
    ) -> None:
        # A set passed in is taken over, not copied: callers pass sets they just built.
        self.members: set[str] = members if isinstance(members, set) else set(members or ())
        self.children: dict[str, FieldSet] = children if children is not None else {}

    # -- building ----------------------------------------------------------------------------------

    def insert(self, path: Path) -> None:
        """Add ``path`` (used while a set is being built; shared sets are never mutated)."""
        node = self
        for element in path[:-1]:
            child = node.children.get(element)
            if child is None:
                child = node.children[element] = FieldSet()
            node = child
        if path:
            node.members.add(path[-1])

    # -- queries -----------------------------------------------------------------------------------

    def empty(self) -> bool:
        return not self.members and not self.children

    def overlaps_fields_v1(self, encoded: Mapping[str, Any]) -> bool:
        """Whether this set shares a path with a FieldsV1 trie, read without decoding the trie."""
        for element in self.members:
            below = encoded.get(element)
            if isinstance(below, Mapping) and (not below or "." in below):
                return True
        for element, child in self.children.items():
            below = encoded.get(element)
            if isinstance(below, Mapping) and below and child.overlaps_fields_v1(below):
                return True
        return False

    def has(self, path: Path) -> bool:
        node = self
        for element in path[:-1]:
            found = node.children.get(element)
            if found is None:
                return False
            node = found
        return bool(path) and path[-1] in node.members

    def within_fields_v1(self, encoded: Mapping[str, Any]) -> bool:
        """Whether every path of this set is in a FieldsV1 trie, read without decoding the trie."""
        for element in self.members:
            below = encoded.get(element)
            if not isinstance(below, Mapping) or (below and "." not in below):
                return False
        for element, child in self.children.items():
            below = encoded.get(element)
            if not isinstance(below, Mapping) or not child.within_fields_v1(below):
                return False
        return True

    def paths(self, prefix: Path = ()) -> Iterator[Path]:
        """Every member path: this level's members first, then each child's, in sorted order."""
        for element in sorted(self.members, key=_order):
            yield (*prefix, element)
        for element in sorted(self.children, key=_order):
            yield from self.children[element].paths((*prefix, element))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSet):
            return NotImplemented
        return self.to_fields_v1() == other.to_fields_v1()

    def __hash__(self) -> int:  # pragma: no cover - sets are not hashed; defined for the eq contract
        return hash(json.dumps(self.to_fields_v1(), sort_keys=True))

    def __repr__(self) -> str:
        return f"FieldSet({[path_string(p) for p in self.paths()]!r})"

    # -- algebra -----------------------------------------------------------------------------------

    def union(self, other: FieldSet) -> FieldSet:
        if other.empty():
            return self
        if self.empty():
            return other
        children = dict(self.children)
        for element, child in other.children.items():
            mine = children.get(element)
            children[element] = child if mine is None else mine.union(child)
        return FieldSet(self.members | other.members, children)

    def difference(self, other: FieldSet) -> FieldSet:
        """The paths of ``self`` that are not paths of ``other`` (prefixes do not matter)."""
        if other.empty():
            return self
        children: dict[str, FieldSet] = {}
        for element, child in self.children.items():
            theirs = other.children.get(element)
            remaining = child if theirs is None else child.difference(theirs)
            if not remaining.empty():
                children[element] = remaining
        return FieldSet(self.members - other.members, children)

    def intersection(self, other: FieldSet) -> FieldSet:
        children: dict[str, FieldSet] = {}
        for element, child in self.children.items():
            theirs = other.children.get(element)
            if theirs is not None:
                common = child.intersection(theirs)
                if not common.empty():
                    children[element] = common
        return FieldSet(self.members & other.members, children)

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """The paths of ``self`` that neither are nor lie under a member of ``other``."""
        if other.empty():
            return self
        children: dict[str, FieldSet] = {}
        for element, child in self.children.items():
            if element in other.members:
                continue
            theirs = other.children.get(element)
            remaining = child if theirs is None else child.recursive_difference(theirs)
            if not remaining.empty():
                children[element] = remaining
        return FieldSet(self.members - other.members, children)

    # -- FieldsV1 ----------------------------------------------------------------------------------

    def to_fields_v1(self) -> dict[str, Any]:
        """The FieldsV1 trie: ``{}`` for a member leaf, ``{".": {}, ...}`` for a member with children."""
        out: dict[str, Any] = {}
        for element in sorted(self.members | self.children.keys(), key=_order):
            child = self.children.get(element)
            if child is None or child.empty():
                out[element] = {}
                continue
            encoded = child.to_fields_v1()
            out[element] = {".": {}, **encoded} if element in self.members else encoded
        return out

    @classmethod
    def from_fields_v1(cls, data: Any) -> FieldSet:
        """Decode a FieldsV1 trie; raises ``ValueError`` when it is not one."""
        if not isinstance(data, Mapping):
            raise ValueError("fieldsV1 must be an object")
        found = cls()
        for element, sub in data.items():
            if element == ".":
                continue
            if not isinstance(element, str) or element[:2] not in ("f:", "k:", "v:", "i:"):
                raise ValueError(f"unknown fieldsV1 key {element!r}: keys start with f:, k:, v: or i:")
            if not isinstance(sub, Mapping):
                raise ValueError(f"fieldsV1 {element!r} must map to an object")
            if not sub or "." in sub:
                found.members.add(element)
            child = cls.from_fields_v1(sub)
            if not child.empty():
                found.children[element] = child
        return found


def field_element(name: str) -> str:
    return "f:" + name


def key_element(fields: Mapping[str, Any]) -> str:
    """The ``k:`` element of a list-map item from its key fields (sorted by name, compact JSON)."""
    return "k:" + json.dumps(dict(sorted(fields.items())), separators=(",", ":"), ensure_ascii=False)


def value_element(value: Any) -> str:
    return "v:" + json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _element_string(element: str) -> str:
    kind, text = element[:2], element[2:]
    if kind == "f:":
        return "." + text
    if kind == "k:":
        keys = json.loads(text)
        inner = ",".join(f"{name}={json.dumps(value, ensure_ascii=False)}" for name, value in keys.items())
        return f"[{inner}]"
    if kind == "v:":
        return f"[={text}]"
    return f"[{text}]"


def path_string(path: Path) -> str:
    """A path as kube-apiserver prints it: ``.spec.containers[name="web"].image``."""
    return "".join(_element_string(element) for element in path)
