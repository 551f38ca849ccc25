"""Kubernetes resource quantities (``500m``, ``2``, ``16Gi``, ``1e3``) as numbers, for fitting pods to nodes
(the simulated scheduler) and comparing cluster properties (fleet placement, the member agent).

Written here because the scheduler needs only parsing and comparison; the full ``resource.Quantity``
canonical formatting is not needed.
"""

from __future__ import annotations

import functools
from decimal import Decimal, InvalidOperation

_SUFFIXES = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def parse_quantity(value: str | int | float) -> Decimal:
    """The numeric value of a quantity; raises ValueError naming the bad text."""
    if isinstance(value, int | float):
        return Decimal(str(value))
    return _parse_text(str(value))


# Controllers add up the same few quantities ("8", "32Gi") over every node and claim, again on each
# event: parsing them was most of a NodePool status at a thousand claims. Decimals are immutable.
@functools.lru_cache(maxsize=4096)
def _parse_text(value: str) -> Decimal:
    text = value.strip()
    for suffix in ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"):
        if text.endswith(suffix) and not (suffix == "E" and "e" in text.lower()[:-1]):
            number, multiplier = text[: -len(suffix)], _SUFFIXES[suffix]
            break
    else:
        number, multiplier = text, Decimal(1)
    try:
        return Decimal(number) * multiplier
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 16Gi)") from None


def format_quantity(value: Decimal, binary: bool = False) -> str:
    """A compact quantity: whole numbers as-is, binary values in Gi/Mi when exact."""
    if binary:
        for suffix in ("Gi", "Mi", "Ki"):
            unit = _SUFFIXES[suffix]
            if value >= unit and value % unit == 0:
                return f"{int(value / unit)}{suffix}"
    if value == value.to_integral_value():
        return str(int(value))
    return f"{int(value * 1000)}m"
