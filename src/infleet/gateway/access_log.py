"""Structured JSON access log, one line per request with its request id. Lines are buffered and
flushed at least every 100 ms (or at 64 KiB), so logging costs one orjson call on the request path.
"""

from __future__ import annotations

import asyncio
import sys
from typing import IO, Any

import orjson

_FLUSH_BYTES = 1 << 16
_FLUSH_SECONDS = 0.1


class AccessLog:
    def __init__(self, stream: IO[bytes] | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr.buffer
        self._buffer = bytearray()
        self._scheduled = False

    @classmethod
    def open(cls, path: str | None) -> AccessLog:
        return cls(open(path, "ab") if path else None)  # owned for the life of the gateway

    def write(self, record: dict[str, Any]) -> None:
        self._buffer += orjson.dumps(record)
        self._buffer += b"\n"
        if len(self._buffer) >= _FLUSH_BYTES:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            try:
                asyncio.get_running_loop().call_later(_FLUSH_SECONDS, self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        self._scheduled = False
        if self._buffer:
            self._stream.write(self._buffer)
            self._stream.flush()
            self._buffer.clear()
