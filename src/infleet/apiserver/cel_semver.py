"""The Kubernetes CEL semver library: ``semver('1.2.3')``, its parts and comparisons (semver.org 2.0.0)."""

from __future__ import annotations

import json
import re
from typing import Any

from infleet.apiserver.cel_opaque import SEMVER, LibraryError, expect, payload, type_of, wrap

_NUMBER = r"0|[1-9]\d*"
_IDENTIFIER = rf"(?:{_NUMBER}|\d*[A-Za-z-][0-9A-Za-z-]*)"
_STRICT = re.compile(
    rf"^({_NUMBER})\.({_NUMBER})\.({_NUMBER})"
    rf"(?:-({_IDENTIFIER}(?:\.{_IDENTIFIER})*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
_LOOSE_CORE = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(.*)$")


def _normalized(text: str) -> str:
    """What ``normalize`` accepts: a leading v, missing minor or patch, leading zeros."""
    match = _LOOSE_CORE.match(text)
    if match is None:
        return text
    major, minor, patch, rest = match.groups()
    return f"{int(major)}.{int(minor or 0)}.{int(patch or 0)}{rest}"


def _parse(text: str, normalize: bool) -> str:
    candidate = _normalized(text) if normalize else text
    if not _STRICT.match(candidate):
        raise LibraryError(f"could not parse {json.dumps(text)} as semver")
    return candidate


def semver(text: Any, normalize: Any = False) -> dict[int, Any]:
    """``semver(string)`` and ``semver(string, normalize)``."""
    return wrap(SEMVER, _parse(expect(text, str, "semver"), expect(normalize, bool, "semver")))


def is_semver(text: Any, normalize: Any = False) -> bool:
    """``isSemver(string)`` and ``isSemver(string, normalize)``."""
    try:
        _parse(expect(text, str, "isSemver"), expect(normalize, bool, "isSemver"))
    except LibraryError:
        return False
    return True


def is_semver_value(value: Any) -> bool:
    """Whether ``value`` is a semver (the dispatcher's test for shared method names)."""
    return type_of(value) == SEMVER


def _parts(value: Any, function: str) -> tuple[int, int, int, str]:
    match = _STRICT.match(payload(value, SEMVER, function))
    assert match is not None  # payloads are parsed versions
    return int(match.group(1)), int(match.group(2)), int(match.group(3)), match.group(4) or ""


def major(value: Any) -> int:
    """``major()``."""
    return _parts(value, "major")[0]


def minor(value: Any) -> int:
    """``minor()``."""
    return _parts(value, "minor")[1]


def patch(value: Any) -> int:
    """``patch()``."""
    return _parts(value, "patch")[2]


def _pre_release_key(pre: str) -> tuple[Any, ...]:
    """A release sorts after its pre-releases; numeric identifiers sort before alphanumeric ones."""
    if not pre:
        return (1,)
    return (0, *((0, int(part), "") if part.isdigit() else (1, 0, part) for part in pre.split(".")))


def compare_to(value: Any, other: Any) -> int:
    """``compareTo(semver)``: -1, 0 or 1; build metadata is ignored."""
    left, right = _parts(value, "compareTo"), _parts(other, "compareTo")
    left_key = (*left[:3], _pre_release_key(left[3]))
    right_key = (*right[:3], _pre_release_key(right[3]))
    return (left_key > right_key) - (left_key < right_key)
