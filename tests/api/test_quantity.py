"""Quantity parsing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from infleet.api.quantity import format_quantity, parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        ("16Gi", Decimal(16 * 2**30)),
        ("1k", Decimal(1000)),
        ("1e3", Decimal(1000)),
        ("128974848", Decimal(128974848)),
        (3, Decimal(3)),
        ("1.5", Decimal("1.5")),
    ],
)
def test_parse(text: str | int, value: Decimal) -> None:
    assert parse_quantity(text) == value


def test_bad_quantity_is_named() -> None:
    with pytest.raises(ValueError, match="'lots'"):
        parse_quantity("lots")


def test_format() -> None:
    assert format_quantity(Decimal(16 * 2**30), binary=True) == "16Gi"
    assert format_quantity(Decimal("0.5")) == "500m"
    assert format_quantity(Decimal(4)) == "4"
