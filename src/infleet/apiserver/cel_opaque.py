"""The Kubernetes CEL library types (IP, CIDR, URL, Quantity, Semver, Format) as values cel can carry.

Functions registered with the ``cel`` package can return only CEL's own value types, not Python objects,
so each library type travels as a map with integer keys, ``{0: type name, 1: canonical payload}``. Object
data never looks like that (JSON object keys are strings), and CEL equality on these maps compares type and
canonical payload, which is how kube-apiserver compares values of these types (``ip('::1') == ip('0::1')``).
"""

from __future__ import annotations

from typing import Any

_TYPE, _PAYLOAD = 0, 1

IP = "net.IP"
CIDR = "net.IPNet"
URL = "kubernetes.URL"
QUANTITY = "kubernetes.Quantity"
SEMVER = "kubernetes.Semver"
FORMAT = "kubernetes.NamedFormat"


class LibraryError(ValueError):
    """A library function's refusal; its text is what the rule's error message shows."""


def wrap(type_name: str, payload: Any) -> dict[int, Any]:
    """A library value of ``type_name`` carrying ``payload``."""
    return {_TYPE: type_name, _PAYLOAD: payload}


def type_of(value: Any) -> str | None:
    """The library type ``value`` carries, or None for plain CEL values."""
    if (
        isinstance(value, dict)
        and len(value) == 2
        and isinstance(value.get(_TYPE), str)
        and _PAYLOAD in value
    ):
        return str(value[_TYPE])
    return None


def payload(value: Any, type_name: str, function: str) -> Any:
    """The payload of a ``type_name`` value; any other argument is cel-go's ``no such overload``."""
    if type_of(value) != type_name:
        raise LibraryError(f"no such overload: {function}({describe(value)})")
    return value[_PAYLOAD]


def describe(value: Any) -> str:
    """A value's CEL type name, for error messages."""
    library = type_of(value)
    if library is not None:
        return library
    names = {
        bool: "bool",
        int: "int",
        float: "double",
        str: "string",
        bytes: "bytes",
        list: "list",
        dict: "map",
    }
    return names.get(type(value), "null_type" if value is None else type(value).__name__)


def expect(value: Any, kind: type, function: str) -> Any:
    """``value`` when it is of Python type ``kind`` (bool never counts as int), else ``no such overload``."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise LibraryError(f"no such overload: {function}({describe(value)})")
    return value
