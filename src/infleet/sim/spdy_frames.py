"""SPDY/3.1 framing without I/O: the stream multiplexer ``kubectl port-forward`` tunnels in its WebSocket.

Written here rather than taken from a library: SPDY gave way to HTTP/2 in 2015 and no maintained Python
implementation is left (the one pure-Python package is a single 2021 release tied to blocking sockets),
while Kubernetes keeps SPDY/3.1 as port-forward's multiplexer. A server needs a small part of it:
SYN_STREAM, DATA, RST_STREAM, PING and GOAWAY in; SYN_REPLY, DATA, RST_STREAM and PING out. Header blocks
are zlib streams primed with the protocol's dictionary, one compression context per direction for the
whole connection, so blocks must be encoded in the order they are sent.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
# RST_STREAM status codes used here.
PROTOCOL_ERROR, REFUSED_STREAM, CANCEL = 1, 3, 5
MAX_DATA = (1 << 24) - 1

# The SPDY/3 header dictionary (draft-mbelshe-httpbis-spdy-00, 2.6.10.1): length-prefixed header names and
# values, then common status lines, dates and media types. Peers check it by its Adler-32 (0xE3C6A7C2).
_DICTIONARY_NAMES = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base content-encoding "
    "content-language content-length content-location content-md5 content-range content-type date etag "
    "expect expires from host if-match if-modified-since if-none-match if-range if-unmodified-since "
    "last-modified location max-forwards pragma proxy-authenticate proxy-authorization range referer "
    "retry-after server te trailer transfer-encoding upgrade user-agent vary via warning www-authenticate "
    "method get status"
)
_DICTIONARY_WORDS = [
    *_DICTIONARY_NAMES.split(" "),
    *("200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"),
]
_DICTIONARY_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
HEADER_DICTIONARY = (
    b"".join(struct.pack(">I", len(word)) + word.encode() for word in _DICTIONARY_WORDS)
    + _DICTIONARY_TAIL.encode()
)

Headers = dict[str, list[str]]


class SpdyProtocolError(Exception):
    """The peer sent bytes that are not SPDY/3.1; the connection cannot go on."""


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: Headers
    fin: bool = False


@dataclass(frozen=True)
class Data:
    stream_id: int
    data: bytes
    fin: bool = False


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class Ping:
    ping_id: int


@dataclass(frozen=True)
class GoAway:
    last_stream_id: int
    status: int


@dataclass(frozen=True)
class Ignored:
    """SETTINGS, WINDOW_UPDATE, HEADERS, SYN_REPLY: nothing a port-forward server acts on."""

    frame_type: int


Frame = SynStream | Data | RstStream | Ping | GoAway | Ignored


def _header_block(headers: Headers) -> bytes:
    parts = [struct.pack(">I", len(headers))]
    for name, values in headers.items():
        encoded_name, value = name.lower().encode(), "\x00".join(values).encode()
        parts += [struct.pack(">I", len(encoded_name)), encoded_name, struct.pack(">I", len(value)), value]
    return b"".join(parts)


def _parse_header_block(block: bytes) -> Headers:
    try:
        (count,) = struct.unpack_from(">I", block, 0)
        offset, headers = 4, Headers()
        for _ in range(count):
            (length,) = struct.unpack_from(">I", block, offset)
            name = block[offset + 4 : offset + 4 + length].decode().lower()
            offset += 4 + length
            (length,) = struct.unpack_from(">I", block, offset)
            value = block[offset + 4 : offset + 4 + length].decode()
            offset += 4 + length
            headers.setdefault(name, []).extend(value.split("\x00"))
    except (struct.error, UnicodeDecodeError) as error:
        raise SpdyProtocolError(f"malformed SPDY header block: {error}") from None
    return headers


@dataclass
class SpdyDecoder:
    """Turns the bytes a peer sends, split anywhere, into frames."""

    _buffer: bytearray = field(default_factory=bytearray)
    _inflate: zlib._Decompress = field(default_factory=lambda: zlib.decompressobj(zdict=HEADER_DICTIONARY))

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            length = int.from_bytes(self._buffer[5:8], "big")
            if len(self._buffer) < 8 + length:
                break
            head, payload = bytes(self._buffer[:8]), bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            frames.append(self._frame(head, payload))
        return frames

    def _headers(self, compressed: bytes) -> Headers:
        try:
            return _parse_header_block(self._inflate.decompress(compressed))
        except zlib.error as error:
            raise SpdyProtocolError(f"SPDY header block does not decompress: {error}") from None

    def _frame(self, head: bytes, payload: bytes) -> Frame:
        first, flags = int.from_bytes(head[:4], "big"), head[4]
        if not first & 0x80000000:
            return Data(first & 0x7FFFFFFF, payload, bool(flags & FLAG_FIN))
        version, frame_type = (first >> 16) & 0x7FFF, first & 0xFFFF
        if version != VERSION:
            raise SpdyProtocolError(f"SPDY version {version} is not supported; this server speaks SPDY/3.1")
        if frame_type == SYN_STREAM and len(payload) >= 10:
            stream_id = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            return SynStream(stream_id, self._headers(payload[10:]), bool(flags & FLAG_FIN))
        if frame_type in (SYN_REPLY, HEADERS) and len(payload) >= 4:
            self._headers(payload[4:])  # keeps the shared decompression context in step
            return Ignored(frame_type)
        if frame_type in (RST_STREAM, GOAWAY) and len(payload) >= 8:
            ident, status = struct.unpack(">II", payload[:8])
            return (
                RstStream(ident & 0x7FFFFFFF, status) if frame_type == RST_STREAM else GoAway(ident, status)
            )
        if frame_type == PING and len(payload) >= 4:
            return Ping(int.from_bytes(payload[:4], "big"))
        if frame_type in (SETTINGS, WINDOW_UPDATE) or frame_type > WINDOW_UPDATE:
            return Ignored(frame_type)
        raise SpdyProtocolError(
            f"SPDY control frame of type {frame_type} is malformed ({len(payload)} bytes)"
        )


@dataclass
class SpdyEncoder:
    """Builds the frames a server sends; header blocks share one compression context."""

    _deflate: zlib._Compress = field(
        default_factory=lambda: zlib.compressobj(zlib.Z_BEST_COMPRESSION, zdict=HEADER_DICTIONARY)
    )

    @staticmethod
    def _control(frame_type: int, flags: int, payload: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, frame_type, (flags << 24) | len(payload)) + payload

    def syn_reply(self, stream_id: int, headers: Headers | None = None, fin: bool = False) -> bytes:
        block = self._deflate.compress(_header_block(headers or {})) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
        return self._control(SYN_REPLY, FLAG_FIN if fin else 0, struct.pack(">I", stream_id) + block)

    @staticmethod
    def data(stream_id: int, data: bytes, fin: bool = False) -> bytes:
        return struct.pack(">II", stream_id, ((FLAG_FIN if fin else 0) << 24) | len(data)) + data

    def rst_stream(self, stream_id: int, status: int) -> bytes:
        return self._control(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    def ping(self, ping_id: int) -> bytes:
        return self._control(PING, 0, struct.pack(">I", ping_id))

    def goaway(self, last_stream_id: int, status: int = 0) -> bytes:
        return self._control(GOAWAY, 0, struct.pack(">II", last_stream_id, status))

    def syn_stream(self, stream_id: int, headers: Headers, fin: bool = False) -> bytes:
        """A client's frame; tests and tools use it to speak to the server side."""
        block = self._deflate.compress(_header_block(headers)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
        body = struct.pack(">IIBB", stream_id, 0, 0, 0) + block
        return self._control(SYN_STREAM, FLAG_FIN if fin else 0, body)
