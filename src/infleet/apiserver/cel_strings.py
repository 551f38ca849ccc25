"""String functions Kubernetes adds to CEL: the regex library (``find``, ``findAll``) and ``format``.

Regular expressions run on RE2 (``google-re2``), the engine kube-apiserver's Go ``regexp`` implements:
the same syntax, and matching in linear time, so an object cannot make a rule's pattern backtrack for
ever. ``format`` follows cel-go's strings extension: ``%s %d %f %e %x %X
%o %b %%`` with an optional precision for ``%f`` and ``%e``.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime, timedelta
from typing import Any

import re2

from infleet.apiserver.cel_opaque import LibraryError, describe, expect, type_of

_CLAUSE = re.compile(r"%(?:\.(\d+))?([a-zA-Z%])")


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is the rule's error, not a line on the server's stderr


@functools.lru_cache(maxsize=512)
def _pattern(regex: str) -> Any:
    try:
        return re2.compile(regex, _RE2_OPTIONS)
    except re2.error as error:
        # RE2 says "missing ): (a"; Go's regexp, "error parsing regexp: missing ): `(a`".
        detail = error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else str(error)
        code, _, argument = detail.partition(": ")
        raise LibraryError(f"error parsing regexp: {code}: `{argument or regex}`") from None


def find(text: Any, regex: Any) -> str:
    """``find(regex)``: the first match, or an empty string."""
    match = _pattern(expect(regex, str, "find")).search(expect(text, str, "find"))
    return match.group(0) if match else ""


def find_all(text: Any, regex: Any, limit: Any = -1) -> list[str]:
    """``findAll(regex)`` and ``findAll(regex, limit)``: every match, or the first ``limit`` of them."""
    count = expect(limit, int, "findAll")
    if count == 0:
        return []
    found: list[str] = []
    previous_end = -1
    for match in _pattern(expect(regex, str, "findAll")).finditer(expect(text, str, "findAll")):
        if match.start() == match.end() == previous_end:
            continue  # Go drops an empty match right after the previous match
        found.append(match.group(0))
        previous_end = match.end()
        if len(found) == count:
            break
    return found


def format_string(template: Any, args: Any) -> str:
    """``'%s has %d'.format([name, count])``, cel-go's ``strings.format``."""
    text, values = expect(template, str, "format"), expect(args, list, "format")
    position = 0

    def clause(match: re.Match[str]) -> str:
        nonlocal position
        precision, verb = match.group(1), match.group(2)
        if verb == "%":
            return "%"
        if position >= len(values):
            raise LibraryError(f"index {position} out of range")
        value = values[position]
        position += 1
        return _formatted(value, verb, None if precision is None else int(precision))

    return _CLAUSE.sub(clause, text)


def _formatted(value: Any, verb: str, precision: int | None) -> str:
    if verb == "s":
        return _as_text(value, top=True)
    if verb == "d":
        if isinstance(value, bool) or not isinstance(value, int):
            raise LibraryError(
                "error during formatting: decimal clause can only be used on integers, "
                f"was given {describe(value)}"
            )
        return str(value)
    if verb in "fe":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise LibraryError(
                f"error during formatting: {'fixed-point' if verb == 'f' else 'scientific'} clause can only "
                f"be used on doubles, was given {describe(value)}"
            )
        return f"{float(value):.{6 if precision is None else precision}{verb}}"
    if verb in "xXob":
        return _in_base(value, verb)
    raise LibraryError(f'could not parse formatting clause: unrecognized formatting clause "{verb}"')


def _in_base(value: Any, verb: str) -> str:
    if isinstance(value, (str, bytes)) and verb in "xX":
        raw = value.encode() if isinstance(value, str) else value
        return raw.hex().upper() if verb == "X" else raw.hex()
    if isinstance(value, bool) or not isinstance(value, int):
        raise LibraryError(
            f"error during formatting: only integers, byte buffers, and strings can be formatted as hex, "
            f"was given {describe(value)}"
        )
    sign = "-" if value < 0 else ""
    return sign + format(abs(value), {"x": "x", "X": "X", "o": "o", "b": "b"}[verb])


def _as_text(value: Any, top: bool = False) -> str:
    """How ``%s`` shows a value: strings bare at the top, quoted inside lists and maps."""
    if isinstance(value, list):
        return "[" + ", ".join(_as_text(item) for item in value) + "]"
    if isinstance(value, dict) and type_of(value) is None:
        entries = sorted(value.items(), key=lambda item: str(item[0]))
        return "{" + ", ".join(f"{_as_text(k)}: {_as_text(v)}" for k, v in entries) + "}"
    if isinstance(value, dict):
        raise LibraryError(f"error during formatting: no such overload: string({describe(value)})")
    return _scalar_text(value, top)


def _scalar_text(value: Any, top: bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return value if top else json.dumps(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace") if top else json.dumps(value.decode("utf-8", "replace"))
    if isinstance(value, float):
        return repr(value) if not value.is_integer() or abs(value) >= 1e21 else str(int(value))
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, timedelta):
        return f"{value.total_seconds():g}s"
    return str(value)
