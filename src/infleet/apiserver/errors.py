"""Kubernetes ``Status`` errors raised by every layer of the API server.

Handlers raise :class:`StatusError`; the HTTP layer turns it into a ``kind: Status`` body with the
matching code, so clients that key on ``code`` and ``reason`` behave as against kube-apiserver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Cause:
    """One reason an object was refused, pointing at the offending field (``spec.replicas``)."""

    reason: str
    message: str
    field: str = ""

    def to_dict(self) -> dict[str, str]:
        out = {"reason": self.reason, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


@dataclass
class StatusError(Exception):
    """An API error carrying everything a ``meta/v1 Status`` needs."""

    code: int
    reason: str
    message: str
    name: str = ""
    group: str = ""
    kind: str = ""
    causes: list[Cause] = field(default_factory=list)
    retry_after_seconds: int | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def to_status(self) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after_seconds is not None:
            details["retryAfterSeconds"] = self.retry_after_seconds
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if details:
            status["details"] = details
        return status


def bad_request(message: str, *, causes: list[Cause] | None = None) -> StatusError:
    return StatusError(400, "BadRequest", message, causes=causes or [])


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized: a valid bearer token is required")


def forbidden(message: str, *, name: str = "", group: str = "", kind: str = "") -> StatusError:
    return StatusError(403, "Forbidden", message, name=name, group=group, kind=kind)


def not_found(resource: str, name: str, group: str = "") -> StatusError:
    qualified = f"{resource}.{group}" if group else resource
    return StatusError(
        404, "NotFound", f'{qualified} "{name}" not found', name=name, group=group, kind=resource
    )


def method_not_allowed(message: str) -> StatusError:
    return StatusError(405, "MethodNotAllowed", message)


def already_exists(resource: str, name: str, group: str = "") -> StatusError:
    qualified = f"{resource}.{group}" if group else resource
    return StatusError(
        409, "AlreadyExists", f'{qualified} "{name}" already exists', name=name, group=group, kind=resource
    )


def conflict(resource: str, name: str, group: str = "", detail: str = "") -> StatusError:
    qualified = f"{resource}.{group}" if group else resource
    message = f'Operation cannot be fulfilled on {qualified} "{name}": ' + (
        detail
        or "the object has been modified; please apply your changes to the latest version and try again"
    )
    return StatusError(409, "Conflict", message, name=name, group=group, kind=resource)


def expired(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def unsupported_media_type(message: str) -> StatusError:
    return StatusError(415, "UnsupportedMediaType", message)


def invalid(kind: str, name: str, causes: list[Cause], group: str = "") -> StatusError:
    """422 Invalid, with the message kube-apiserver writes: ``Kind "name" is invalid: field: why``."""
    summary = ", ".join(f"{c.field}: {c.message}" if c.field else c.message for c in causes)
    message = f'{kind} "{name}" is invalid: {summary}' if summary else f'{kind} "{name}" is invalid'
    return StatusError(422, "Invalid", message, name=name, group=group, kind=kind, causes=causes)


def internal_error(message: str) -> StatusError:
    return StatusError(500, "InternalError", message)
