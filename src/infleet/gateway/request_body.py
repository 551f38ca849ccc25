"""Reading and rewriting OpenAI request bodies without re-serializing them: one orjson parse for the
fields the gateway needs, the prompt located as raw bytes for prefix hashing, and the `model` value
spliced in place. Called by the proxy per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from infleet.scheduling.routing import prefix_blocks

_PROMPT_KEYS = (b'"messages"', b'"prompt"', b'"input"')


class BadRequestError(ValueError):
    """The body is not a JSON object with a string `model`; the message says what to fix."""


@dataclass(slots=True)
class RequestBody:
    raw: bytes
    data: dict[str, Any]
    model: str
    stream: bool

    def prefix(self, salt: str) -> tuple[int, ...]:
        """Chained block hashes of the prompt as sent; identical leading bytes give identical hashes."""
        raw = self.raw
        for key in _PROMPT_KEYS:
            start = raw.find(key)
            if start >= 0:
                return prefix_blocks(raw[start : start + 65536], salt)
        return ()

    def with_model(self, model: str) -> list[bytes | memoryview]:
        """The body with `model` replaced, as pieces that share the original buffer (a 400 kB prompt is
        neither copied nor re-serialized); bytes elsewhere are kept exactly as the client sent them."""
        if model == self.model:
            return [self.raw]
        old = orjson.dumps(self.model)
        new = orjson.dumps(model)
        raw = self.raw
        for sep in (b'"model":', b'"model": '):
            needle = sep + old
            at = raw.find(needle)
            # Splice only when the key occurs once; a nested "model" key would otherwise be hit.
            if at >= 0 and raw.find(b'"model"', at + 1) < 0 and raw.find(b'"model"', 0, at) < 0:
                view = memoryview(raw)
                return [view[:at], sep + new, view[at + len(needle) :]]
        data = dict(self.data)
        data["model"] = model
        return [orjson.dumps(data)]


def parse_body(raw: bytes) -> RequestBody:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequestError("request body must be a JSON object")
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequestError("field 'model' is required and must be a non-empty string")
    return RequestBody(raw, data, model, data.get("stream") is True)


def usage_from_json(body: bytes) -> dict[str, Any] | None:
    """The `usage` object of a non-streaming response, if it has one."""
    if b'"usage"' not in body:
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    usage = data.get("usage") if isinstance(data, dict) else None
    return usage if isinstance(usage, dict) else None


def usage_from_sse_tail(tail: bytes) -> dict[str, Any] | None:
    """The usage of a stream, read from its last bytes (the include_usage chunk precedes [DONE])."""
    at = tail.rfind(b'"usage":{')
    if at < 0:
        return None
    start = tail.rfind(b"data:", 0, at)
    end = tail.find(b"\n", at)
    if start < 0 or end < 0:
        return None
    try:
        event = orjson.loads(tail[start + 5 : end])
    except orjson.JSONDecodeError:
        return None
    usage = event.get("usage") if isinstance(event, dict) else None
    return usage if isinstance(usage, dict) else None
