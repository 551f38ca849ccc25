"""An in-process `Transport` that calls ASGI apps directly, one per origin, so proxy tests need no
sockets (like httpx.ASGITransport). Unknown origins raise `UpstreamConnectError`, as a dead host would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from infleet.gateway.transport import (
    Body,
    Headers,
    Origin,
    UpstreamConnectError,
    UpstreamError,
    UpstreamTimeoutError,
)

AsgiApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class _AsgiResponse:
    def __init__(self, task: asyncio.Task[None], queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._task = task
        self._queue = queue
        self._ended = False
        self.status = 0
        self.headers: Headers = []

    async def _get(self, deadline: float) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout_at(deadline if deadline > loop.time() else loop.time()):
            return await self._queue.get()

    async def start(self, deadline: float) -> None:
        try:
            message = await self._get(deadline)
        except TimeoutError as exc:
            raise UpstreamTimeoutError("no response headers before the deadline") from exc
        if message is None:
            raise UpstreamError("app ended without a response")
        self.status = message["status"]
        self.headers = [(k.lower(), v) for k, v in message.get("headers", [])]

    async def next_chunk(self, deadline: float) -> bytes | None:
        while not self._ended:
            try:
                message = await self._get(deadline)
            except TimeoutError:
                return None
            if message is None:
                raise UpstreamError("app failed before the body ended")
            body: bytes = message.get("body", b"")
            if not message.get("more_body"):
                self._ended = True
            if body:
                return body
        return b""

    def close(self) -> None:
        if not self._task.done():
            self._task.cancel()


class AsgiTransport:
    def __init__(self, apps: dict[str, AsgiApp]) -> None:
        self.apps = {Origin.parse(url): app for url, app in apps.items()}

    async def send(
        self,
        origin: Origin,
        method: bytes,
        path: bytes,
        headers: Headers,
        body: Body,
        connect_deadline: float,
        headers_deadline: float,
    ) -> _AsgiResponse:
        app = self.apps.get(origin)
        if app is None:
            raise UpstreamConnectError(f"cannot connect to {origin}: no app")
        raw_path, _, query = path.partition(b"?")
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": method.decode(),
            "path": raw_path.decode(),
            "raw_path": raw_path,
            "query_string": query,
            "headers": [(k.lower(), v) for k, v in headers],
            "scheme": origin.scheme,
            "server": (origin.host, origin.port),
            "client": ("127.0.0.1", 1),
        }
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": b"".join(body), "more_body": False}
            await asyncio.Event().wait()  # a client that never disconnects
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            await queue.put(message)

        async def run() -> None:
            try:
                await app(scope, receive, send)
            finally:
                await queue.put(None)

        task = asyncio.create_task(run())
        response = _AsgiResponse(task, queue)
        try:
            await response.start(headers_deadline)
        except BaseException:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise
        return response

    async def close(self) -> None:
        return None
