"""The error a Kubernetes API request ends with: the HTTP code and the ``Status`` object's reason.

Raised by :class:`infleet.kube.cluster_client.ClusterClient`; callers branch on ``code`` (404, 409, 410,
422) through the ``is_*`` properties rather than on message text.
"""

from __future__ import annotations

from typing import Any


class KubeAPIError(Exception):
    """A request the API server refused, or a watch ERROR event."""

    def __init__(self, code: int, reason: str, message: str, status: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.status = status or {}

    @classmethod
    def from_status(cls, status: dict[str, Any], code: int | None = None) -> KubeAPIError:
        return cls(
            int(status.get("code") or code or 500),
            str(status.get("reason") or "Unknown"),
            str(status.get("message") or ""),
            status,
        )

    @property
    def not_found(self) -> bool:
        return self.code == 404

    @property
    def conflict(self) -> bool:
        return self.code == 409

    @property
    def gone(self) -> bool:
        """The resourceVersion is too old (410 Expired/Gone): the caller must list again."""
        return self.code == 410

    @property
    def invalid(self) -> bool:
        return self.code == 422


def is_stale_write(error: BaseException) -> bool:
    """A write refused because the reconciler read a stale copy: 409 Conflict (the object changed since
    it was read) or 409 AlreadyExists (it was created since the cache last heard of it).

    A reconciler lets this error propagate; the controller requeues it quietly with backoff.
    """
    return (
        isinstance(error, KubeAPIError) and error.conflict and error.reason in ("Conflict", "AlreadyExists")
    )
