"""Every function a CRD validation rule may call: cel's extended standard library plus Kubernetes' libraries.

The ``cel`` package resolves a call by name alone (``x.f(a)`` is ``f(x, a)``) after its native functions, so
names that several Kubernetes libraries share (``indexOf`` on strings and lists, ``compareTo`` on quantities
and semvers, ``ip(string)`` and ``cidr.ip()``) are one dispatcher here that picks by argument type. Each
function is guarded so that a bad argument is an error message the rule's cause can carry, never a crash.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any

from cel import stdlib

from infleet.apiserver import cel_formats, cel_lists, cel_network, cel_quantity, cel_semver, cel_strings
from infleet.apiserver.cel_opaque import CIDR, IP, LibraryError, describe, type_of

Function = Callable[..., Any]

# Functions the cel package evaluates itself (its macros never appear as calls).
NATIVE_FUNCTIONS = frozenset(
    {
        "bytes", "double", "duration", "dyn", "int", "string", "timestamp", "type", "uint", "size",
        "contains", "startsWith", "endsWith", "matches", "getDate", "getDayOfMonth", "getDayOfWeek",
        "getDayOfYear", "getFullYear", "getHours", "getMilliseconds", "getMinutes", "getMonth", "getSeconds",
        "of", "none", "ofNonZeroValue", "hasValue", "value", "or", "orValue",
    }
)  # fmt: skip
# Library namespaces: in ``ip.isCanonical(s)`` the parser sees ``ip`` as a variable.
NAMESPACES = frozenset({"math", "strings", "sets", "lists", "base64", "optional", "ip", "format"})
# The cel package logs every failing Python function as a warning; for a rule that is an answer to the
# client (a 422 naming the rule), not a server problem.
logging.getLogger("cel").setLevel(logging.ERROR)
_PYTHON_FAILURE = re.compile(
    r"^Function '[^']*' error: Python function call failed: (?:\w+: )?(.*?)\.? Check function arguments and "
    r"their types\.$",
    re.S,
)


def _by_target(function: str, **choices: Function) -> Function:
    """One CEL name over several receiver types: string, list, quantity, semver, ip, cidr."""

    def dispatch(target: Any, *args: Any) -> Any:
        library = type_of(target)
        if library is not None:
            kind = {IP: "ip", CIDR: "cidr"}.get(library, library.rpartition(".")[2].lower())
        else:
            kind = "string" if isinstance(target, str) else "list" if isinstance(target, list) else ""
        chosen = choices.get(kind)
        if chosen is None:
            raise LibraryError(f"no such overload: {function}({describe(target)})")
        return chosen(target, *args)

    return dispatch


def _guarded(name: str, function: Function) -> Function:
    """``function`` raising only LibraryError: a wrong argument count or type reads as cel-go's wording."""

    @functools.wraps(function)
    def call(*args: Any) -> Any:
        try:
            return function(*args)
        except LibraryError:
            raise
        except (TypeError, AttributeError, KeyError):
            shown = ", ".join(describe(arg) for arg in args)
            raise LibraryError(f"no such overload: {name}({shown})") from None
        except (ValueError, IndexError, OverflowError) as error:
            raise LibraryError(str(error)) from None

    return call


def _kubernetes() -> dict[str, Function]:
    quantity_or_semver: dict[str, dict[str, Function]] = {
        "compareTo": {"quantity": cel_quantity.compare_to, "semver": cel_semver.compare_to},
        "isGreaterThan": {
            "quantity": cel_quantity.is_greater_than,
            "semver": lambda a, b: cel_semver.compare_to(a, b) > 0,
        },
        "isLessThan": {
            "quantity": cel_quantity.is_less_than,
            "semver": lambda a, b: cel_semver.compare_to(a, b) < 0,
        },
    }
    functions: dict[str, Function] = {
        # lists
        "isSorted": cel_lists.is_sorted,
        "sum": cel_lists.sum_list,
        "min": cel_lists.min_list,
        "max": cel_lists.max_list,
        "indexOf": _by_target("indexOf", string=stdlib.index_of, list=cel_lists.index_of),
        "lastIndexOf": _by_target("lastIndexOf", string=stdlib.last_index_of, list=cel_lists.last_index_of),
        # regex and strings.format
        "find": cel_strings.find,
        "findAll": cel_strings.find_all,
        "format": cel_strings.format_string,
        # URLs
        "url": cel_network.url,
        "isURL": cel_network.is_url,
        "getScheme": cel_network.get_scheme,
        "getHost": cel_network.get_host,
        "getHostname": cel_network.get_hostname,
        "getPort": cel_network.get_port,
        "getEscapedPath": cel_network.get_escaped_path,
        "getQuery": cel_network.get_query,
        # IPs and CIDRs
        "ip": cel_network.ip,
        "isIP": cel_network.is_ip,
        "ip.isCanonical": cel_network.ip_is_canonical,
        "family": cel_network.family,
        "isUnspecified": cel_network.is_unspecified,
        "isLoopback": cel_network.is_loopback,
        "isLinkLocalMulticast": cel_network.is_link_local_multicast,
        "isLinkLocalUnicast": cel_network.is_link_local_unicast,
        "isGlobalUnicast": cel_network.is_global_unicast,
        "cidr": cel_network.cidr,
        "isCIDR": cel_network.is_cidr,
        "containsIP": cel_network.contains_ip,
        "containsCIDR": cel_network.contains_cidr,
        "prefixLength": cel_network.prefix_length,
        "masked": cel_network.masked,
        "string": cel_network.as_string,
        # quantities
        "quantity": cel_quantity.quantity,
        "isQuantity": cel_quantity.is_quantity,
        "sign": cel_quantity.sign,
        "isInteger": cel_quantity.is_integer,
        "asInteger": cel_quantity.as_integer,
        "asApproximateFloat": cel_quantity.as_approximate_float,
        "add": cel_quantity.add,
        "sub": cel_quantity.sub,
        # semver
        "semver": cel_semver.semver,
        "isSemver": cel_semver.is_semver,
        "major": cel_semver.major,
        "minor": cel_semver.minor,
        "patch": cel_semver.patch,
        # formats
        "validate": cel_formats.validate,
        **cel_formats.constructors(),
    }
    for name, choices in quantity_or_semver.items():
        functions[name] = _by_target(name, **choices)
    return functions


FUNCTIONS: dict[str, Function] = {
    name: _guarded(name, function) for name, function in {**stdlib.STDLIB_FUNCTIONS, **_kubernetes()}.items()
}
# The names a rule may call: a dotted name is called by its last part (``format.dns1123Label()``).
CALLABLE = NATIVE_FUNCTIONS | {name.rpartition(".")[2] for name in FUNCTIONS}


@functools.lru_cache(maxsize=1024)
def functions_for(called: frozenset[str]) -> dict[str, Function]:
    """The library functions a program needs by the names it calls (``dns1123Label``: its dotted name)."""
    return {name: function for name, function in FUNCTIONS.items() if name.rpartition(".")[2] in called}


def undeclared_functions(called: list[str]) -> list[str]:
    """The functions among a program's ``called`` names that no library provides (operators skipped)."""
    return [name for name in called if name[:1].isalpha() and name not in CALLABLE]


def error_text(message: str) -> str:
    """A library function's error as the rule's cause shows it, without the cel package's wrapping."""
    match = _PYTHON_FAILURE.match(message.strip())
    return match.group(1) if match else message.strip()
