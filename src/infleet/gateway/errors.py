"""OpenAI-style error responses (`{"error": {message, type, param, code}}`) sent by the gateway itself.
Called by the app and the proxy for every response the gateway produces rather than relays.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

Send = Callable[[dict[str, Any]], Awaitable[None]]

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    502: "api_error",
    503: "service_unavailable",
    504: "timeout_error",
}


_RETRY_SOON = (b"retry-after", b"1")


def error_body(status: int, message: str, code: str | None = None) -> bytes:
    err = {"message": message, "type": _TYPES.get(status, "api_error"), "param": None, "code": code or status}
    return orjson.dumps({"error": err})


async def send_error(
    send: Send,
    status: int,
    message: str,
    code: str | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = error_body(status, message, code)
    out = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if headers:
        out += headers
    if status in (429, 503) and not any(name == b"retry-after" for name, _ in out):
        # Every "not now" says when to come back, so clients back off instead of hammering.
        out.append(_RETRY_SOON)
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})
