"""Reading and rewriting OpenAI request bodies without re-serializing them: the fields the gateway
needs (`model`, `stream`), the prompt located as raw bytes for prefix hashing, and the `model` value
spliced in place. Small bodies are parsed with orjson; large ones (long prompts) are sniffed with two
byte scans, since a full parse is the largest CPU cost of a 100k-token request. Called by the proxy.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from infleet.scheduling.routing import prefix_blocks

_PROMPT_KEYS = (b'"messages"', b'"prompt"', b'"input"')
_SNIFF_ABOVE = 1 << 16
_MODEL_VALUE = re.compile(rb'"model"\s*:\s*("(?:[^"\\]|\\.)*")')
_STREAM_VALUE = re.compile(rb'"stream"\s*:\s*(true|false|null)')


class BadRequestError(ValueError):
    """The body is not a JSON object with a string `model`; the message says what to fix."""


class RequestBody:
    __slots__ = ("_data", "model", "model_span", "raw", "stream")

    def __init__(
        self,
        raw: bytes,
        model: str,
        stream: bool,
        data: dict[str, Any] | None = None,
        model_span: tuple[int, int] | None = None,
    ) -> None:
        self.raw = raw
        self.model = model
        self.stream = stream
        self._data = data
        self.model_span = model_span  # bytes of the top-level model value, quotes included, if known unique

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = orjson.loads(self.raw)
        return self._data

    def prefix(self, salt: str) -> tuple[int, ...]:
        """Chained block hashes of the prompt as sent; identical leading bytes give identical hashes."""
        raw = self.raw
        for key in _PROMPT_KEYS:
            start = raw.find(key)
            if start >= 0:
                return prefix_blocks(memoryview(raw)[start : start + 65536], salt)
        return ()

    def with_model(self, model: str) -> list[bytes | memoryview]:
        """The body with `model` replaced, as pieces that share the original buffer (a 400 kB prompt is
        neither copied nor re-serialized); bytes elsewhere are kept exactly as the client sent them."""
        if model == self.model:
            return [self.raw]
        raw = self.raw
        if self.model_span is None:
            at = raw.find(b'"model"')
            # Splice only when the key occurs once; a nested "model" key would otherwise be hit.
            if at >= 0 and raw.find(b'"model"', at + 7) < 0:
                match = _MODEL_VALUE.match(raw, at)
                if match is not None:
                    self.model_span = (match.start(1), match.end(1))
        if self.model_span is not None:
            start, end = self.model_span
            view = memoryview(raw)
            return [view[:start], orjson.dumps(model), view[end:]]
        data = dict(self.data)
        data["model"] = model
        return [orjson.dumps(data)]


def _sniff(raw: bytes) -> RequestBody | None:
    """Reads `model` and `stream` of a large body by scanning bytes; None when in doubt (keys repeated,
    unusual layout), and the caller then parses it. The upstream still validates the JSON itself."""
    if not raw[:64].lstrip().startswith(b"{"):
        return None
    at = raw.find(b'"model"')
    if at < 0 or raw.find(b'"model"', at + 7) >= 0:
        return None
    match = _MODEL_VALUE.match(raw, at)
    if match is None:
        return None
    try:
        model = orjson.loads(match.group(1))
    except orjson.JSONDecodeError:
        return None
    if not isinstance(model, str) or not model:
        return None
    stream = False
    at = raw.find(b'"stream"')
    if at >= 0:
        if raw.find(b'"stream"', at + 8) >= 0:
            return None
        flag = _STREAM_VALUE.match(raw, at)
        if flag is None:
            return None
        stream = flag.group(1) == b"true"
    return RequestBody(raw, model, stream, model_span=(match.start(1), match.end(1)))


def parse_body(raw: bytes) -> RequestBody:
    if len(raw) > _SNIFF_ABOVE:
        sniffed = _sniff(raw)
        if sniffed is not None:
            return sniffed
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequestError("request body must be a JSON object")
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequestError("field 'model' is required and must be a non-empty string")
    return RequestBody(raw, model, data.get("stream") is True, data)


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
