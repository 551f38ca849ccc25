"""Decoding request bodies into plain JSON values, within the limits every body and object obeys.

A body is refused with 400 before any other code sees it when it is not one JSON or YAML document of
JSON values, nests deeper than :data:`MAX_DEPTH`, holds an integer outside int64, or is a YAML document
whose aliases expand it by more than :data:`MAX_ALIAS_EXPANSION` nodes. Duplicate fields are reported
so ``fieldValidation`` can refuse (Strict) or warn about (Warn) them, as kube-apiserver does.

The stdlib ``json`` decoder reads bodies rather than orjson: it reads every integer exactly, so the
int64 check sees what the client sent (orjson turns integers past 2^64 into floats silently), and its
``object_pairs_hook`` sees duplicate keys that a dict would swallow. Bodies are at most a few MB, and
the difference is tens of microseconds per object.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from infleet.apiserver.errors import StatusError, bad_request

# Levels of nesting one object may have. kube-apiserver allows deeper objects; this server serialises
# with orjson, which stops at 254 levels, and wraps objects in lists, watch events and Tables, so it
# keeps a wide margin below that. No Kubernetes object of a real workload comes near 100 levels.
MAX_DEPTH = 100
# Nodes that YAML aliases may add to a document beyond the nodes written in it (a "billion laughs"
# document of a few hundred bytes would otherwise expand to gigabytes).
MAX_ALIAS_EXPANSION = 10_000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
YAML_MEDIA_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


@dataclass
class Decoded:
    """A decoded body and the paths of the fields it sent more than once."""

    value: Any
    duplicates: list[str] = field(default_factory=list)

    def duplicate_messages(self) -> list[str]:
        return [f'duplicate field "{path}"' for path in self.duplicates]


class ShapeError(ValueError):
    """A value that no stored object may hold, and where it is."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


def decode_body(raw: bytes, media_type: str, what: str = "the request body") -> Decoded:
    """Decode a JSON or YAML body, refusing with 400 what no object may hold."""
    is_yaml = media_type in YAML_MEDIA_TYPES
    try:
        decoded = _decode_yaml(raw) if is_yaml else _decode_json(raw)
    except RecursionError:
        raise bad_request(f"{what} nests deeper than {MAX_DEPTH} levels: flatten the object") from None
    except (ValueError, yaml.YAMLError, UnicodeDecodeError) as exc:
        if isinstance(exc, _AliasBombError | StatusError):
            raise
        raise bad_request(f"{what} is not valid {'YAML' if is_yaml else 'JSON'}: {exc}") from None
    try:
        check_shape(decoded.value)
    except ShapeError as exc:
        at = f" at {exc.path}" if exc.path else ""
        raise bad_request(f"{what} is not a valid object{at}: {exc}") from None
    return decoded


def check_shape(value: Any) -> None:
    """Raise :class:`ShapeError` unless ``value`` is JSON data within the depth and integer limits.
    Every write runs this: a first pass keeps no paths (building one per node was most of its cost),
    and only a body it refuses is walked again to say where."""
    if not _well_shaped(value):
        _locate_shape_error(value)


def _well_shaped(value: Any) -> bool:
    """True when plainly fine; False sends the body to the careful walk (which has the last word)."""
    if not isinstance(value, dict | list):
        return value is None or type(value) is str or type(value) is bool or _scalar_ok(value)
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(node, dict):
            children: Any = node.values()
            if not all(type(key) is str for key in node):
                return False
        else:
            children = node
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif not (child is None or type(child) is str or type(child) is bool or _scalar_ok(child)):
                return False
    return True


def _scalar_ok(value: Any) -> bool:
    if type(value) is int:
        return INT64_MIN <= value <= INT64_MAX
    if type(value) is float:
        return math.isfinite(value)
    return False


def _locate_shape_error(value: Any) -> None:
    """The refusal of :func:`check_shape`, with the path to the offending node."""
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(value, 1, ())]
    while stack:
        node, depth, path = stack.pop()
        if not isinstance(node, dict | list):
            _check_scalar(node, path)
            continue
        if depth > MAX_DEPTH:
            raise _too_deep(path)
        if isinstance(node, dict) and not all(isinstance(key, str) for key in node):
            odd = next(key for key in node if not isinstance(key, str))
            raise ShapeError(f"field names must be strings, got {odd!r}", render(path))
        for key, child in node.items() if isinstance(node, dict) else enumerate(node):
            if isinstance(child, dict | list):
                stack.append((child, depth + 1, (*path, key)))
            else:
                _check_scalar(child, (*path, key))


def _too_deep(path: tuple[str | int, ...]) -> ShapeError:
    # The field the deep part starts under; the whole path would be a hundred segments long.
    return ShapeError(f"nests deeper than {MAX_DEPTH} levels: flatten the object", render(path[:2]))


def _check_scalar(value: Any, path: tuple[str | int, ...]) -> None:
    if value is None or isinstance(value, str | bool):
        return
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ShapeError(f"the integer {value} is outside the int64 range", render(path))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ShapeError(f"{value} is not a JSON number", render(path))
    else:
        raise ShapeError(f"a {type(value).__name__} is not a JSON value", render(path))


def render(path: tuple[str | int, ...]) -> str:
    """``("spec", "items", 0, "name")`` as ``spec.items[0].name``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# -- JSON ----------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _decode_json(raw: bytes) -> Decoded:
    duplicated: dict[int, list[str]] = {}

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            duplicated[id(obj)] = [key for key, _ in pairs if key in seen or seen.add(key)]  # type: ignore[func-returns-value]
        return obj

    value = json.loads(raw, object_pairs_hook=pairs_hook, parse_constant=_refuse_constant)
    if not duplicated:
        return Decoded(value)
    paths = [render((*path, key)) for path, keys in _paths_of(value, duplicated) for key in keys]
    return Decoded(value, paths)


def _paths_of(value: Any, wanted: dict[int, list[str]]) -> Iterator[tuple[tuple[str | int, ...], list[str]]]:
    """The path of every dict in ``value`` whose id is in ``wanted``, with the keys it maps to."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            if id(node) in wanted:
                yield path, wanted[id(node)]
            stack.extend((child, (*path, key)) for key, child in node.items())
        elif isinstance(node, list):
            stack.extend((child, (*path, index)) for index, child in enumerate(node))


# -- YAML ----------------------------------------------------------------------------------------


class _AliasBombError(StatusError):
    def __init__(self, expansion: int) -> None:
        super().__init__(
            400,
            "BadRequest",
            f"the YAML document's aliases expand it by more than {MAX_ALIAS_EXPANSION} nodes "
            f"({expansion} or more): write the repeated parts out or send JSON",
        )


class _JSONCompatibleLoader(yaml.SafeLoader):
    """YAML 1.1 as Kubernetes reads it: timestamps stay strings, as sigs.k8s.io/yaml leaves them."""


_JSONCompatibleLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _decode_yaml(raw: bytes) -> Decoded:
    loader = _JSONCompatibleLoader(raw.decode("utf-8"))
    try:
        root = loader.get_single_node()
        if root is None:
            return Decoded(None)
        duplicates = _inspect_nodes(root)
        return Decoded(loader.construct_document(root), duplicates)
    finally:
        loader.dispose()


def _inspect_nodes(root: yaml.Node) -> list[str]:
    """Refuse alias bombs and recursive aliases; return the paths of duplicated mapping keys.

    Walks the node graph as written (an aliased node once, in post-order) while counting the nodes
    it stands for once aliases are expanded, which is what any consumer of the decoded value walks.
    """
    expanded: dict[int, int] = {}  # id(node) -> nodes it expands to, once its children are counted
    visiting: set[int] = set()
    written = 0
    duplicates: list[str] = []
    stack: list[tuple[yaml.Node, tuple[str | int, ...], bool]] = [(root, (), False)]
    while stack:
        node, path, children_counted = stack.pop()
        if children_counted:
            size = 1 + sum(expanded[id(child)] for child in _values(node))
            if isinstance(node, yaml.MappingNode):
                size += len(node.value)
            expanded[id(node)] = size
            if size - written > MAX_ALIAS_EXPANSION:
                raise _AliasBombError(size - written)
            continue
        if id(node) in expanded:
            continue
        if id(node) in visiting:
            where = render(path) or "the top"
            raise yaml.YAMLError(f"the alias at {where} refers to a node that contains it")
        if len(path) >= MAX_DEPTH:
            raise RecursionError
        visiting.add(id(node))
        written += 1
        stack.append((node, path, True))
        stack.extend(_under(node, path, duplicates))
    return duplicates


def _under(
    node: yaml.Node, path: tuple[str | int, ...], duplicates: list[str]
) -> Iterator[tuple[yaml.Node, tuple[str | int, ...], bool]]:
    """The nodes under ``node`` to walk next; adds the paths of keys a mapping repeats to ``duplicates``."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            if key in seen:
                duplicates.append(render((*path, key)))
            seen.add(key)
            yield value_node, (*path, key), False
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            yield child, (*path, index), False


def _values(node: yaml.Node) -> Iterator[yaml.Node]:
    """The nodes under a mapping or sequence (a mapping's keys count with their values)."""
    if isinstance(node, yaml.MappingNode):
        for _, value_node in node.value:
            yield value_node
    elif isinstance(node, yaml.SequenceNode):
        yield from node.value
