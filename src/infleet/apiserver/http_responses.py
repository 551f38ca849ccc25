"""Building HTTP responses the way kube-apiserver writes them: JSON bodies, Status errors, warnings.

Shared by the request router (``http_api``) and the resource endpoint (``resource_endpoint``).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from infleet.apiserver.errors import StatusError

TABLE_MEDIA_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def json_response(body: Any, status: int = 200, media_type: str = "application/json") -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media_type)


def encoded_list(envelope: dict[str, Any], items: list[bytes]) -> bytes:
    """The JSON of ``envelope`` with ``items`` (each already JSON) as its last key, ``items``.

    Byte for byte what ``orjson.dumps({**envelope, "items": [...]})`` writes (orjson adds no
    whitespace), put together from cached encodings in one copy instead of encoding every object.
    """
    head = orjson.dumps({**envelope, "items": []})
    prefix, suffix = head[:-2], head[-2:]  # ...,"items":[  and  ]}
    if not items:
        return head
    if len(items) == 1:
        return prefix + items[0] + suffix
    return b",".join([prefix + items[0], *items[1:-1], items[-1] + suffix])


def encoded_list_response(envelope: dict[str, Any], items: list[bytes]) -> Response:
    return Response(encoded_list(envelope, items), media_type="application/json")


def status_response(error: StatusError) -> Response:
    response = json_response(error.to_status(), error.code)
    if error.retry_after_seconds is not None:
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response


def wants_table(request: Request) -> bool:
    return "as=Table" in request.headers.get("accept", "")


def _escape_char(char: str) -> str:
    if char in '"\\':
        return "\\" + char
    return char.encode("unicode_escape").decode("ascii")


def add_warnings(response: Response, warnings: list[str]) -> Response:
    for text in warnings:
        # Header values must be printable ASCII: escape everything else (field names come from clients).
        escaped = "".join(c if " " <= c <= "~" and c not in '"\\' else _escape_char(c) for c in text)
        response.raw_headers.append((b"warning", f'299 - "{escaped}"'.encode("ascii")))
    return response
