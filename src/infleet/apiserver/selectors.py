"""Kubernetes label and field selectors: parsing, validation and matching.

List, watch and deletecollection handlers parse ``labelSelector`` / ``fieldSelector`` query parameters
here; the Scale subresource renders a workload's ``metav1.LabelSelector`` as text with ``str()``.
The grammar is small and exact, so it is parsed by hand rather than with a parser library.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infleet.apiserver.errors import bad_request

_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SPECIAL = "=!(),<>"
_SET_OPS = ("in", "notin")


def label_key_error(key: str) -> str | None:
    """Why ``key`` is not a valid qualified label key, or None when it is."""
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return f"prefix part of {key!r} must be non-empty"
        if len(prefix) > 253 or not _DNS_SUBDOMAIN_RE.match(prefix):
            return (
                f"prefix part of {key!r} must be a DNS-1123 subdomain (lowercase alphanumerics, '-' and '.')"
            )
    if not name:
        return f"name part of {key!r} must be non-empty"
    if len(name) > 63:
        return f"name part of {key!r} must be no more than 63 characters"
    if not _NAME_RE.match(name):
        return (
            f"name part of {key!r} must consist of alphanumerics, '-', '_' or '.', "
            "and must start and end with an alphanumeric character"
        )
    return None


def label_value_error(value: str) -> str | None:
    """Why ``value`` is not a valid label value, or None when it is."""
    if len(value) > 63:
        return f"label value {value!r} must be no more than 63 characters"
    if value and not _NAME_RE.match(value):
        return (
            f"label value {value!r} must consist of alphanumerics, '-', '_' or '.', "
            "and must start and end with an alphanumeric character"
        )
    return None


@dataclass(frozen=True)
class Requirement:
    """One label requirement; ``op`` is one of in, notin, exists, !, gt, lt."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op == "in":
            return present and labels[self.key] in self.values
        if self.op == "notin":
            return not present or labels[self.key] not in self.values
        if not present:
            return False
        try:
            actual = int(labels[self.key])
        except ValueError:
            return False
        bound = int(self.values[0])
        return actual > bound if self.op == "gt" else actual < bound

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return f"!{self.key}"
        if self.op in ("gt", "lt"):
            return f"{self.key}{'>' if self.op == 'gt' else '<'}{self.values[0]}"
        if len(self.values) == 1:
            return f"{self.key}{'=' if self.op == 'in' else '!='}{self.values[0]}"
        return f"{self.key} {self.op} ({','.join(self.values)})"


def _make_requirement(key: str, op: str, values: list[str]) -> Requirement | str:
    """A checked requirement, or the reason it is invalid."""
    problem = label_key_error(key)
    if problem:
        return problem
    if op in ("in", "notin") and not values:
        return f"for 'in', 'notin' operators, values set can't be empty (key {key!r})"
    if op in ("gt", "lt"):
        if len(values) != 1 or not re.fullmatch(r"-?\d+", values[0]):
            return f"for 'Gt', 'Lt' operators, exactly one integer value is required (key {key!r})"
        return Requirement(key, op, tuple(values))
    for value in values:
        problem = label_value_error(value)
        if problem:
            return problem
    return Requirement(key, op, tuple(sorted(set(values))))


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _SPECIAL:
            two = text[i : i + 2]
            if two in ("==", "!="):
                tokens.append(two)
                i += 2
            else:
                tokens.append(ch)
                i += 1
        else:
            j = i
            while j < len(text) and not text[j].isspace() and text[j] not in _SPECIAL:
                j += 1
            tokens.append(text[i:j])
            i = j
    return tokens


def _is_identifier(token: str | None) -> bool:
    return token is not None and token not in ("==", "!=") and token not in _SPECIAL


class _LabelParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def fail(self, why: str) -> Exception:
        return bad_request(f"unable to parse requirement: invalid label selector {self.text!r}: {why}")

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str | None:
        token = self.peek()
        self.pos += 1
        return token

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            requirements.append(self.requirement())
            token = self.take()
            if token is None:
                return requirements
            if token != ",":
                raise self.fail(f"found {token!r}, expected ','")

    def requirement(self) -> Requirement:
        negate = self.peek() == "!"
        if negate:
            self.take()
        key = self.take()
        if not _is_identifier(key) or key is None:
            raise self.fail(f"found {key or 'end of input'!r}, expected a label key")
        op = self.peek()
        if negate or op in (None, ","):
            return self.existence(key, negate, op)
        self.take()
        if op in ("=", "==", "!="):
            return self.check(key, "notin" if op == "!=" else "in", [self.equality_value(key)])
        if op in (">", "<"):
            return self.check(key, "gt" if op == ">" else "lt", [self.integer_value(key)])
        if op in _SET_OPS:
            return self.check(key, op, self.value_set(key))
        raise self.fail(f"found {op!r} after key {key!r}, expected one of =, ==, !=, in, notin, >, <")

    def existence(self, key: str, negate: bool, following: str | None) -> Requirement:
        """``key`` or ``!key``, which only a ',' or the end of input may follow."""
        if negate and following not in (None, ","):
            raise self.fail(f"found {following!r} after '!{key}', expected ',' or end of input")
        return self.check(key, "!" if negate else "exists", [])

    def equality_value(self, key: str) -> str:
        """The value after =, == or !=; empty when a ',' or the end of input follows the operator."""
        value = self.peek()
        if value in (None, ","):
            return ""
        if _is_identifier(value) and value is not None:
            self.take()
            return value
        raise self.fail(f"found {value!r}, expected a label value for key {key!r}")

    def integer_value(self, key: str) -> str:
        """The operand of > or <, checked to be an integer by :meth:`check`."""
        value = self.take()
        if not _is_identifier(value) or value is None:
            raise self.fail(f"found {value or 'end of input'!r}, expected an integer for key {key!r}")
        return value

    def value_set(self, key: str) -> list[str]:
        if self.take() != "(":
            raise self.fail(f"expected '(' after the operator for key {key!r}")
        values: list[str] = []
        expect_value = True
        while True:
            token = self.take()
            if token is None:
                raise self.fail(f"missing ')' in the values of key {key!r}")
            if token == ")":
                if values and expect_value:
                    values.append("")
                return values
            if token == ",":
                if expect_value:
                    values.append("")
                expect_value = True
            elif _is_identifier(token) and expect_value:
                values.append(token)
                expect_value = False
            else:
                raise self.fail(f"found {token!r} in the values of key {key!r}")

    def check(self, key: str, op: str, values: list[str]) -> Requirement:
        made = _make_requirement(key, op, values)
        if isinstance(made, str):
            raise self.fail(made)
        return made


class LabelSelector:
    """A conjunction of label requirements; the empty selector matches everything."""

    def __init__(self, requirements: list[Requirement]) -> None:
        self.requirements = tuple(sorted(requirements, key=lambda r: r.key))

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        if not text.strip():
            return cls([])
        return cls(_LabelParser(text).parse())

    @classmethod
    def from_dict(cls, selector: Mapping[str, Any]) -> LabelSelector:
        """Build from a ``metav1.LabelSelector`` (``matchLabels`` and ``matchExpressions``)."""
        if not isinstance(selector, Mapping):
            raise ValueError(f"a label selector must be an object, got {type(selector).__name__}")
        requirements = _match_labels(selector.get("matchLabels") or {})
        expressions = selector.get("matchExpressions") or []
        if not isinstance(expressions, list):
            raise ValueError("matchExpressions must be a list")
        requirements.extend(
            _match_expression(f"matchExpressions[{i}]", expr) for i, expr in enumerate(expressions)
        )
        return cls(requirements)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    @property
    def is_empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return f"LabelSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelSelector) and self.requirements == other.requirements

    def __hash__(self) -> int:
        return hash(self.requirements)


_EXPRESSION_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def _match_labels(match_labels: Any) -> list[Requirement]:
    if not isinstance(match_labels, Mapping):
        raise ValueError("matchLabels must be an object of label key to value")
    requirements: list[Requirement] = []
    for key, value in match_labels.items():
        if not isinstance(value, str):
            raise ValueError(f"matchLabels[{key}] must be a string")
        made = _make_requirement(str(key), "in", [value])
        if isinstance(made, str):
            raise ValueError(f"matchLabels: {made}")
        requirements.append(made)
    return requirements


def _match_expression(where: str, expr: Any) -> Requirement:
    if not isinstance(expr, Mapping):
        raise ValueError(f"{where} must be an object with key, operator and values")
    key, operator, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    if not isinstance(key, str):
        raise ValueError(f"{where}.key must be a string")
    if operator not in _EXPRESSION_OPS:
        raise ValueError(f"{where}.operator {operator!r} is not one of In, NotIn, Exists, DoesNotExist")
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{where}.values must be a list of strings")
    if operator in ("Exists", "DoesNotExist") and values:
        raise ValueError(f"{where}.values must be empty when operator is {operator}")
    made = _make_requirement(key, _EXPRESSION_OPS[str(operator)], values)
    if isinstance(made, str):
        raise ValueError(f"{where}: {made}")
    return made


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    negate: bool
    value: str


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def _unescape(value: str, whole: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\":
            if i + 1 >= len(value) or value[i + 1] not in "\\,=":
                raise bad_request(f"invalid field selector {whole!r}: invalid escape sequence in {value!r}")
            out.append(value[i + 1])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


class FieldSelector:
    """A conjunction of ``field=value`` / ``field!=value`` requirements on selectable fields."""

    def __init__(self, requirements: list[FieldRequirement]) -> None:
        self.requirements = tuple(requirements)

    @classmethod
    def parse(cls, text: str) -> FieldSelector:
        if not text.strip():
            return cls([])
        requirements = []
        for term in _split_unescaped(text, ","):
            idx = term.find("=")
            if idx < 0:
                raise bad_request(
                    f"invalid field selector {text!r}: can't understand {term!r} (expected field=value)"
                )
            if idx > 0 and term[idx - 1] == "!":
                idx, op = idx - 1, "!="
            else:
                op = "==" if term.startswith("==", idx) else "="
            name = term[:idx].strip()
            if not name or any(ch in name for ch in "!=\\"):
                raise bad_request(f"invalid field selector {text!r}: {term!r} has no valid field name")
            requirements.append(FieldRequirement(name, op == "!=", _unescape(term[idx + len(op) :], text)))
        return cls(requirements)

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(r.field for r in self.requirements)

    @property
    def is_empty(self) -> bool:
        return not self.requirements

    def matches(self, values: Mapping[str, str]) -> bool:
        return all((values.get(r.field, "") == r.value) != r.negate for r in self.requirements)

    def exact(self, field: str) -> str | None:
        for r in self.requirements:
            if r.field == field and not r.negate:
                return r.value
        return None

    def __str__(self) -> str:
        def esc(v: str) -> str:
            return v.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")

        return ",".join(f"{r.field}{'!=' if r.negate else '='}{esc(r.value)}" for r in self.requirements)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"
