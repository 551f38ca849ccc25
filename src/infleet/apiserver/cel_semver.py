"""The Kubernetes CEL semver library: ``semver('1.2.3')``, its parts and comparisons (semver.org 2.0.0)."""

from __future__ import annotations

import json
import re
from typing import Any

from infleet.apiserver.cel_opaque import SEMVER, LibraryError, expect, payload, type_of, wrap

_ALPHANUMERIC = re.compile(r"^[0-9A-Za-z-]+$")


def _number(text: str, name: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise LibraryError(f"Invalid character(s) found in {name.lower()} number {_q(text)}")
    if len(text) > 1 and text.startswith("0"):
        raise LibraryError(f"{name} number must not contain leading zeroes {_q(text)}")
    return int(text)


def _parse_strict(text: str) -> tuple[int, int, int, str]:
    """Major, minor, patch and pre-release of a semver.org 2.0.0 version, with blang/semver's errors."""
    if not text:
        raise LibraryError("Version string empty")
    parts = text.split(".", 2)
    if len(parts) != 3:
        raise LibraryError("No Major.Minor.Patch elements found")
    major, minor = _number(parts[0], "Major"), _number(parts[1], "Minor")
    rest, plus, build = parts[2].partition("+")
    patch_text, dash, pre = rest.partition("-")
    patch = _number(patch_text, "Patch")
    if dash:
        _check_pre_release(pre)
    if plus:
        _check_build(build)
    return major, minor, patch, pre


def _check_pre_release(pre: str) -> None:
    for identifier in pre.split("."):
        if not identifier:
            raise LibraryError("Empty PreRelease version")
        if not _ALPHANUMERIC.match(identifier):
            raise LibraryError(f"Invalid character(s) found in prerelease {_q(identifier)}")
        if identifier.isdigit() and len(identifier) > 1 and identifier.startswith("0"):
            raise LibraryError(f"Numeric PreRelease version must not contain leading zeroes {_q(identifier)}")


def _check_build(build: str) -> None:
    for identifier in build.split("."):
        if not identifier:
            raise LibraryError("Build meta data is empty")
        if not _ALPHANUMERIC.match(identifier):
            raise LibraryError(f"Invalid character(s) found in build meta data {_q(identifier)}")


def _normalized(text: str) -> str:
    """What ``normalize`` accepts, as kube-apiserver does: a leading v, no minor or patch, leading zeros."""
    parts = text.removeprefix("v").split(".", 2)
    for index, part in enumerate(parts):
        if len(part) > 1:
            trimmed = part.lstrip("0")
            parts[index] = trimmed if trimmed[:1].isdigit() else "0" + trimmed
    if len(parts) < 3:
        if any(mark in parts[-1] for mark in "+-"):
            raise LibraryError("short version cannot contain PreRelease/Build meta data")
        parts += ["0"] * (3 - len(parts))
    return ".".join(parts)


def _parse(text: str, normalize: bool) -> str:
    """The version without build metadata, which equality and ordering ignore."""
    candidate = _normalized(text) if normalize else text
    _parse_strict(candidate)
    return candidate.partition("+")[0]


def _q(text: str) -> str:
    return json.dumps(text)


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
    return _parse_strict(payload(value, SEMVER, function))


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
