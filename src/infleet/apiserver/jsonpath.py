"""Kubernetes JSONPath, as used by CRD ``additionalPrinterColumns`` and ``selectableFields``.

Table rendering and field selection compile ``.status.conditions[?(@.type=="Ready")].status`` and the like
with :func:`compile_jsonpath`. Parsed by hand: ``jsonpath-ng`` lacks Kubernetes' filter syntax without its
extensions and the escaped-dot keys (``.metadata.labels.app\\.kubernetes\\.io/name``).
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_FILTER_RE = re.compile(r"^\s*@((?:\.[^\s=!<>]+)*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*$")
_INDEX_RE = re.compile(r"^\s*(-?\d*)\s*(?::\s*(-?\d*)\s*)?$")


@dataclass(frozen=True)
class _Step:
    kind: str  # field, wildcard, index, slice, filter, recursive
    name: str = ""
    start: int | None = None
    stop: int | None = None
    filter_path: tuple[str, ...] = ()
    filter_op: str = ""
    filter_value: Any = None


class JsonPath:
    """A compiled expression; :meth:`find` returns every match (empty when nothing matches)."""

    def __init__(self, expr: str, steps: list[_Step]) -> None:
        self.expr = expr
        self._steps = tuple(steps)

    def find(self, obj: Any) -> list[Any]:
        current = [obj]
        for step in self._steps:
            current = [out for value in current for out in _apply(step, value)]
        return current

    def __repr__(self) -> str:
        return f"JsonPath({self.expr!r})"


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return list(value)
    return []


def _descendants(value: Any) -> list[Any]:
    out = [value]
    for child in _children(value):
        out.extend(_descendants(child))
    return out


def _lookup(value: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return False, None
        value = value[name]
    return True, value


def _apply_field(step: _Step, value: Any) -> list[Any]:
    return [value[step.name]] if isinstance(value, dict) and step.name in value else []


def _apply_wildcard(step: _Step, value: Any) -> list[Any]:
    return _children(value)


def _apply_recursive(step: _Step, value: Any) -> list[Any]:
    return [d[step.name] for d in _descendants(value) if isinstance(d, dict) and step.name in d]


def _apply_index(step: _Step, value: Any) -> list[Any]:
    if not isinstance(value, list) or step.start is None:
        return []
    index = step.start + len(value) if step.start < 0 else step.start
    return [value[index]] if 0 <= index < len(value) else []


def _apply_slice(step: _Step, value: Any) -> list[Any]:
    return list(value[step.start : step.stop]) if isinstance(value, list) else []


def _apply_filter(step: _Step, value: Any) -> list[Any]:
    return [item for item in _children(value) if _filter_matches(step, item)]


def _filter_matches(step: _Step, item: Any) -> bool:
    found, actual = _lookup(item, step.filter_path)
    if not found:
        return False
    if not step.filter_op:
        return True
    try:
        return bool(_COMPARE[step.filter_op](actual, step.filter_value))
    except TypeError:
        return False  # ordering a string against a number is no match, not an error


_APPLY: dict[str, Callable[[_Step, Any], list[Any]]] = {
    "field": _apply_field,
    "wildcard": _apply_wildcard,
    "recursive": _apply_recursive,
    "index": _apply_index,
    "slice": _apply_slice,
    "filter": _apply_filter,
}


def _apply(step: _Step, value: Any) -> list[Any]:
    return _APPLY[step.kind](step, value)


def _literal(text: str, expr: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        raise ValueError(f"invalid JSONPath {expr!r}: cannot read the literal {text!r} in a filter") from None


def _read_name(expr: str, i: int) -> tuple[str, int]:
    """A dotted field name starting at ``i``; ``\\.`` escapes a dot inside it."""
    out = []
    while i < len(expr) and expr[i] not in ".[":
        if expr[i] == "\\" and i + 1 < len(expr):
            out.append(expr[i + 1])
            i += 2
        else:
            out.append(expr[i])
            i += 1
    return "".join(out), i


def _bracket(expr: str, i: int) -> tuple[_Step, int]:
    """The step written in brackets at ``expr[i] == '['``; returns it and the index after ``]``."""
    j = _closing_bracket(expr, i)
    inner = expr[i + 1 : j].strip()
    end = j + 1
    if inner == "*":
        return _Step("wildcard"), end
    if inner.startswith("?"):
        return _filter_step(expr, inner), end
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return _Step("field", name=inner[1:-1]), end
    return _subscript_step(expr, inner), end


def _closing_bracket(expr: str, i: int) -> int:
    """The index of the ``]`` that closes ``expr[i] == '['``, skipping nested brackets and quotes."""
    depth, j, quote = 0, i, ""
    while j < len(expr):
        ch = expr[j]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    raise ValueError(f"invalid JSONPath {expr!r}: unclosed '['")


def _filter_step(expr: str, inner: str) -> _Step:
    """``?(@.a.b)`` (the field exists) or ``?(@.a.b OP literal)``."""
    body = inner[1:].strip()
    if not (body.startswith("(") and body.endswith(")")):
        raise ValueError(f"invalid JSONPath {expr!r}: a filter must be written [?(...)]")
    match = _FILTER_RE.match(body[1:-1])
    if match is None:
        raise ValueError(f"invalid JSONPath {expr!r}: cannot read the filter {inner!r}")
    path = tuple(part for part in match.group(1).split(".") if part)
    op = match.group(2) or ""
    value = _literal(match.group(3), expr) if op else None
    return _Step("filter", filter_path=path, filter_op=op, filter_value=value)


def _subscript_step(expr: str, inner: str) -> _Step:
    """An index ``[n]`` or a slice ``[start:stop]``."""
    match = _INDEX_RE.match(inner)
    if match is None or (match.group(1) == "" and match.group(2) is None):
        raise ValueError(f"invalid JSONPath {expr!r}: cannot read the subscript [{inner}]")
    start = int(match.group(1)) if match.group(1) not in ("", "-") else None
    if match.group(2) is None and ":" not in inner:
        return _Step("index", start=start)
    stop = int(match.group(2)) if match.group(2) not in (None, "", "-") else None
    return _Step("slice", start=start, stop=stop)


def compile_jsonpath(expr: str) -> JsonPath:
    """Compile ``.a.b[0].c``, ``{.a[*].b}``, ``$.a``, ``.a[?(@.k=="v")].b`` or ``..name``."""
    text = _path_text(expr)
    steps: list[_Step] = []
    i = 0
    while i < len(text):
        step, i = _next_step(expr, text, i)
        if step is not None:
            steps.append(step)
    return JsonPath(expr, steps)


def _path_text(expr: str) -> str:
    """``expr`` without its template braces and ``$`` root; it must then start with '.' or '['."""
    text = expr.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    if not text:
        raise ValueError(f"invalid JSONPath {expr!r}: empty expression")
    if text[0] not in ".[":
        raise ValueError(
            f"invalid JSONPath {expr!r}: must start with '.' or '[' (for example .metadata.name)"
        )
    return text


def _next_step(expr: str, text: str, i: int) -> tuple[_Step | None, int]:
    """The step at ``text[i]`` (None for a bare '.' before '[' or at the end) and the index after it."""
    ch = text[i]
    if ch == "[":
        return _bracket(text, i)
    if text.startswith("..", i):
        name, i = _read_name(text, i + 2)
        if not name:
            raise ValueError(f"invalid JSONPath {expr!r}: '..' must be followed by a field name")
        return _Step("recursive", name=name), i
    if ch == ".":
        name, i = _read_name(text, i + 1)
        if name == "*":
            return _Step("wildcard"), i
        if name:
            return _Step("field", name=name), i
        if i < len(text) and text[i] != "[":
            raise ValueError(f"invalid JSONPath {expr!r}: empty field name at position {i}")
        return None, i
    raise ValueError(f"invalid JSONPath {expr!r}: unexpected {ch!r} at position {i}")
