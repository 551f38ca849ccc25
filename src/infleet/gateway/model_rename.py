"""Answers carry the model name the client asked for (an alias, a route's public name), not the name
the engine serves. Only when the two differ, and without re-encoding JSON: the compact
``"model":"<served>"`` field is replaced byte for byte (a quote inside a JSON string is escaped, so
the pattern cannot occur in content). Built per attempt by the retry policy; applied by the upstream
call to a whole body and by the stream relay to each chunk.
"""

from __future__ import annotations

import orjson


def model_field(name: str) -> bytes:
    """``"model":"<name>"`` as compact JSON writes it."""
    return b'"model":' + orjson.dumps(name)


class ModelRename:
    __slots__ = ("_held", "new", "old")

    def __init__(self, old: bytes, new: bytes) -> None:
        self.old = old
        self.new = new
        self._held = b""  # an incomplete line of a stream, kept until its end arrives

    @classmethod
    def between(cls, served_field: bytes, served: str, asked: str) -> ModelRename | None:
        """None when the client asked for the name the engine serves: nothing to rewrite."""
        if asked == served:
            return None
        return cls(served_field, model_field(asked))

    def body(self, data: bytes) -> bytes:
        return data.replace(self.old, self.new)

    def chunk(self, data: bytes) -> bytes:
        """A stream chunk with the name rewritten; a field may be split across chunks, so bytes after
        the chunk's last newline wait for the next one (a partial SSE line is of no use to a client)."""
        if self._held:
            data = self._held + data
        end = data.rfind(b"\n") + 1
        self._held = data[end:]
        return data[:end].replace(self.old, self.new)

    def rest(self) -> bytes:
        """What was held back when the stream ended without a final newline."""
        held, self._held = self._held, b""
        return held.replace(self.old, self.new)
