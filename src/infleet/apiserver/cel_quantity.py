"""The Kubernetes CEL quantity library: ``quantity('500Mi')`` and its comparisons and arithmetic.

Values come from the project's :func:`infleet.api.quantity.parse_quantity` after the text is held to
kube-apiserver's ``resource.ParseQuantity`` grammar (that parser is more lenient). A quantity carries its
exact decimal value, so ``quantity('1') == quantity('1000m')`` as in kube-apiserver.
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext
from typing import Any

from infleet.api.quantity import parse_quantity
from infleet.apiserver.cel_opaque import QUANTITY, LibraryError, expect, payload, type_of, wrap

_GRAMMAR = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
_GRAMMAR_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
_INT64 = (-(2**63), 2**63 - 1)


def _parse(text: str) -> Decimal:
    if not _GRAMMAR.match(text):
        raise LibraryError(_GRAMMAR_ERROR)
    return parse_quantity(text)


def _quantity(value: Decimal) -> dict[int, Any]:
    # The payload is the exact value, normalized so that equal amounts are equal maps.
    text = format(value.normalize(), "f") if value else "0"
    return wrap(QUANTITY, text)


def _value(value: Any, function: str) -> Decimal:
    return Decimal(payload(value, QUANTITY, function))


def quantity(text: Any) -> dict[int, Any]:
    """``quantity(string)``: a quantity such as ``500m``, ``16Gi`` or ``1e3``."""
    return _quantity(_parse(expect(text, str, "quantity")))


def is_quantity(text: Any) -> bool:
    """``isQuantity(string)``: whether ``quantity()`` would accept the text."""
    try:
        _parse(expect(text, str, "isQuantity"))
    except (LibraryError, ValueError):
        return False
    return True


def is_quantity_value(value: Any) -> bool:
    """Whether ``value`` is a quantity (the dispatcher's test for shared method names)."""
    return type_of(value) == QUANTITY


def sign(value: Any) -> int:
    """``sign()``: -1, 0 or 1."""
    amount = _value(value, "sign")
    return (amount > 0) - (amount < 0)


def is_integer(value: Any) -> bool:
    """``isInteger()``: whether ``asInteger()`` would succeed (whole and within int64)."""
    amount = _value(value, "isInteger")
    return amount == amount.to_integral_value() and _INT64[0] <= amount <= _INT64[1]


def as_integer(value: Any) -> int:
    """``asInteger()``: the value as an int; an error when it is fractional or past int64."""
    if not is_integer(value):
        raise LibraryError("cannot convert value to integer")
    return int(_value(value, "asInteger"))


def as_approximate_float(value: Any) -> float:
    """``asApproximateFloat()``: the value as a double, possibly rounded."""
    return float(_value(value, "asApproximateFloat"))


def _operand(other: Any, function: str) -> Decimal:
    if isinstance(other, int) and not isinstance(other, bool):
        return Decimal(other)
    return _value(other, function)


def add(value: Any, other: Any) -> dict[int, Any]:
    """``add(quantity | int)``: the sum, exactly."""
    with localcontext() as context:
        context.prec = 60
        return _quantity(_value(value, "add") + _operand(other, "add"))


def sub(value: Any, other: Any) -> dict[int, Any]:
    """``sub(quantity | int)``: the difference, exactly."""
    with localcontext() as context:
        context.prec = 60
        return _quantity(_value(value, "sub") - _operand(other, "sub"))


def compare_to(value: Any, other: Any) -> int:
    """``compareTo(quantity)``: -1, 0 or 1."""
    left, right = _value(value, "compareTo"), _value(other, "compareTo")
    return (left > right) - (left < right)


def is_greater_than(value: Any, other: Any) -> bool:
    """``isGreaterThan(quantity)``."""
    return compare_to(value, other) > 0


def is_less_than(value: Any, other: Any) -> bool:
    """``isLessThan(quantity)``."""
    return compare_to(value, other) < 0
