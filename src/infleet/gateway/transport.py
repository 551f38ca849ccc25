"""The upstream transport port: how the proxy sends one HTTP request to a replica and reads the answer.

Injectable like httpx's transports: `HttpPool` speaks HTTP/1.1 over sockets, `AsgiTransport` calls an
ASGI app in-process so tests need no sockets. Deadlines are absolute `loop.time()` values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

Headers = list[tuple[bytes, bytes]]
# A request body as pieces written back to back: lets the proxy splice a new model name into a large
# body without copying it.
Body = Sequence[bytes | memoryview]


class UpstreamError(Exception):
    """The upstream could not be reached or broke the exchange before it ended."""

    kind = "error"


class UpstreamConnectError(UpstreamError):
    """No connection could be made: retrying elsewhere is always safe."""

    kind = "connect"


class UpstreamTimeoutError(UpstreamError):
    """A deadline passed before the upstream answered or finished: the client gets 504."""

    kind = "timeout"


class UpstreamConnectTimeoutError(UpstreamConnectError, UpstreamTimeoutError):
    """Connecting took longer than the connect deadline: safe to retry elsewhere, and a timeout."""

    kind = "connect-timeout"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a replica listens, parsed once at config load rather than per request."""

    scheme: str
    host: str
    port: int
    base_path: str  # prefix such as "/v1" already in the configured URL, without a trailing slash

    @classmethod
    def parse(cls, url: str) -> Origin:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL with a host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def host_header(self) -> bytes:
        default = 443 if self.scheme == "https" else 80
        return (self.host if self.port == default else f"{self.host}:{self.port}").encode()

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{self.base_path}"


class UpstreamResponse(Protocol):
    """A response whose headers have arrived; the body is read chunk by chunk as it arrives."""

    status: int
    headers: Headers

    async def next_chunk(self, deadline: float) -> bytes | None:
        """The next body bytes; b"" once the body ended; None if `deadline` passed first."""
        ...

    def close(self) -> None:
        """Returns the connection to the pool if the body was read to the end, else drops it."""
        ...


class Transport(Protocol):
    async def send(
        self,
        origin: Origin,
        method: bytes,
        path: bytes,
        headers: Headers,
        body: Body,
        connect_deadline: float,
        headers_deadline: float,
    ) -> UpstreamResponse:
        """Sends a request; returns once the status line and headers arrived, else raises UpstreamError."""
        ...

    async def close(self) -> None: ...


async def read_body(response: UpstreamResponse, deadline: float) -> bytes:
    """Reads the rest of the body, raising UpstreamTimeoutError at `deadline`."""
    parts: list[bytes] = []
    while True:
        chunk = await response.next_chunk(deadline)
        if chunk is None:
            raise UpstreamTimeoutError("upstream body did not finish before the deadline")
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
