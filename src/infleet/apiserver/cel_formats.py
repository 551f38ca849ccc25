"""The Kubernetes CEL format library: ``format.dns1123Label().validate(self)`` and its siblings.

``validate`` returns ``optional.none()`` for a valid string, else an optional list of the reasons, worded as
kube-apiserver's name validation words them (``a lowercase RFC 1123 label must consist of ...``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import cel

from infleet.apiserver.cel_network import URL_FAILURE, parse_request_uri
from infleet.apiserver.cel_opaque import FORMAT, LibraryError, expect, payload, wrap

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_DNS1035 = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_UUID = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$", re.I)
_QUALIFIED_MESSAGE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character"
)


def _max_length(limit: int) -> str:
    return f"must be no more than {limit} characters"


def _regex_error(message: str, regex: str, *examples: str) -> str:
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{regex}')"


def _matches(regex: str, value: str) -> bool:
    return re.fullmatch(regex, value) is not None


def dns1123_label(value: str) -> list[str]:
    """Why ``value`` is not an RFC 1123 label (lowercase, at most 63 characters)."""
    errors = [_max_length(63)] if len(value) > 63 else []
    if not _matches(_LABEL, value):
        if _matches(_SUBDOMAIN, value):
            errors.append("must not contain dots")
        else:
            message = (
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
                "must start and end with an alphanumeric character"
            )
            errors.append(_regex_error(message, _LABEL, "my-name", "123-abc"))
    return errors


def dns1123_subdomain(value: str) -> list[str]:
    """Why ``value`` is not an RFC 1123 subdomain (lowercase, at most 253 characters)."""
    errors = [_max_length(253)] if len(value) > 253 else []
    if not _matches(_SUBDOMAIN, value):
        message = (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character"
        )
        errors.append(_regex_error(message, _SUBDOMAIN, "example.com"))
    return errors


def dns1035_label(value: str) -> list[str]:
    """Why ``value`` is not an RFC 1035 label (starts with a letter)."""
    errors = [_max_length(63)] if len(value) > 63 else []
    if not _matches(_DNS1035, value):
        message = (
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
            "alphabetic character, and end with an alphanumeric character"
        )
        errors.append(_regex_error(message, _DNS1035, "my-name", "abc-123"))
    return errors


def qualified_name(value: str) -> list[str]:
    """Why ``value`` is not a qualified name (``[prefix/]name``, as label keys are)."""
    parts = value.split("/")
    if len(parts) > 2:
        detail = _regex_error(
            f"a qualified name {_QUALIFIED_MESSAGE}", _QUALIFIED, "MyName", "my.name", "123-abc"
        )
        return [f"{detail} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    errors: list[str] = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend(f"prefix part {error}" for error in dns1123_subdomain(prefix))
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append(f"name part {_max_length(63)}")
    if name and not _matches(_QUALIFIED, name):
        errors.append(
            "name part " + _regex_error(_QUALIFIED_MESSAGE, _QUALIFIED, "MyName", "my.name", "123-abc")
        )
    return errors


def label_value(value: str) -> list[str]:
    """Why ``value`` is not a label value (empty, or at most 63 alphanumerics, '-', '_', '.')."""
    errors = [_max_length(63)] if len(value) > 63 else []
    if not _matches(_LABEL_VALUE, value):
        message = (
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character"
        )
        errors.append(_regex_error(message, _LABEL_VALUE, "MyValue", "my_value", "12345"))
    return errors


def _as_prefix(check: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """A generateName prefix may end in '-': checked as if that dash were a letter."""
    return lambda value: check(value[:-1] + "a" if len(value) > 1 and value.endswith("-") else value)


def _uri(value: str) -> list[str]:
    try:
        parse_request_uri(value)
    except LibraryError as error:
        return [str(error).removeprefix(URL_FAILURE)]
    return []


def _uuid(value: str) -> list[str]:
    return [] if _UUID.match(value) else ["does not match the UUID format"]


def _byte(value: str) -> list[str]:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return ["invalid base64"]
    return []


def _date(value: str) -> list[str]:
    try:
        date.fromisoformat(value) if len(value) == 10 else date.fromisoformat("invalid")
    except ValueError:
        return ["invalid date"]
    return []


def _datetime(value: str) -> list[str]:
    """RFC 3339 and the ISO 8601 forms kube-openapi's ``date-time`` accepts (no zone, minutes only)."""
    if len(value) < 16 or value[10:11] not in ("T", "t", " "):
        return ["invalid datetime"]
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return ["invalid datetime"]
    return []


CHECKS: dict[str, Callable[[str], list[str]]] = {
    "dns1123Label": dns1123_label,
    "dns1123Subdomain": dns1123_subdomain,
    "dns1035Label": dns1035_label,
    "qualifiedName": qualified_name,
    "dns1123LabelPrefix": _as_prefix(dns1123_label),
    "dns1123SubdomainPrefix": _as_prefix(dns1123_subdomain),
    "dns1035LabelPrefix": _as_prefix(dns1035_label),
    "labelValue": label_value,
    "uri": _uri,
    "uuid": _uuid,
    "byte": _byte,
    "date": _date,
    "datetime": _datetime,
}


def named(name: Any) -> cel.OptionalValue:
    """``format.named(string)``: the format of that name, or ``optional.none()``."""
    if expect(name, str, "format.named") in CHECKS:
        return cel.OptionalValue.of(wrap(FORMAT, name))
    return cel.OptionalValue.none()


def validate(fmt: Any, value: Any) -> cel.OptionalValue:
    """``<format>.validate(string)``: none when valid, else an optional list of reasons."""
    errors = CHECKS[payload(fmt, FORMAT, "validate")](expect(value, str, "validate"))
    return cel.OptionalValue.of(errors) if errors else cel.OptionalValue.none()


def constructors() -> dict[str, Callable[..., Any]]:
    """``format.<name>()`` for every format, and ``format.named``."""
    made: dict[str, Callable[..., Any]] = {
        f"format.{name}": (lambda bound=name: wrap(FORMAT, bound)) for name in CHECKS
    }
    made["format.named"] = named
    return made
