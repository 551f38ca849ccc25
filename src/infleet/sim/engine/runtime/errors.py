"""Errors the simulated engine answers with, carrying vLLM's HTTP status and error ``type``.

Raised by the engine runtime and the request parser; the HTTP app renders them in vLLM's nested
error shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from infleet.sim.engine.runtime.http_server import Response


class EngineError(Exception):
    """An error with its HTTP status, vLLM error type and optional response headers."""

    def __init__(
        self, status: int, error_type: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        return {
            "error": {"message": self.message, "type": self.error_type, "param": None, "code": self.status}
        }


def bad_request(message: str) -> EngineError:
    return EngineError(400, "BadRequestError", message)


def not_found(message: str) -> EngineError:
    return EngineError(404, "NotFoundError", message)


def send_error(response: Response, err: EngineError) -> None:
    """Answer with ``err`` in vLLM's nested error shape, its status and its headers."""
    headers = [(b"content-type", b"application/json")]
    headers += [(k.encode(), v.encode()) for k, v in err.headers.items()]
    response.send(err.status, orjson.dumps(err.body()), headers)
