"""Shared fixtures for gateway tests: the fake vLLM engine from benchmarks/, an in-process ASGI client,
and loopback uvicorn servers for tests that need real sockets."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import socket
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn

from infleet.gateway.access_log import AccessLog
from infleet.gateway.app import GatewayApp
from infleet.gateway.asgi_transport import AsgiTransport
from infleet.gateway.config import parse_config
from infleet.gateway.limits import Limiter, LocalLimiter

_ENGINE_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "fake_engine.py"


def _load_fake_engine() -> Any:
    spec = importlib.util.spec_from_file_location("fake_engine", _ENGINE_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fake_engine"] = module
    spec.loader.exec_module(module)
    return module


fake_engine = _load_fake_engine()
FakeEngine = fake_engine.FakeEngine
EngineModel = fake_engine.EngineModel


@dataclass
class Reply:
    status: int
    headers: dict[bytes, bytes]
    chunks: list[bytes] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def json(self) -> Any:
        return orjson.loads(self.body)


async def call(
    app: Any,
    path: str,
    body: Any = None,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> Reply:
    """Drives an ASGI app in-process, the way uvicorn would for one request."""
    raw = body if isinstance(body, bytes) else (orjson.dumps(body) if body is not None else b"")
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    sent = False
    reply = Reply(0, {})

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            reply.status = message["status"]
            reply.headers = dict(message.get("headers", []))
        elif message.get("body"):
            reply.chunks.append(message["body"])

    await app(scope, receive, send)
    return reply


def chat(model: str = "llama", stream: bool = False, content: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": content}], **extra}


def build_gateway(
    config: dict[str, Any], engines: dict[str, Any], limiter: Limiter | None = None
) -> tuple[GatewayApp, io.BytesIO]:
    """A gateway over in-process engines (no sockets), with its access log captured."""
    log = io.BytesIO()
    config.setdefault("access_log", {"enabled": False})
    app = GatewayApp(
        parse_config(config),
        transport=AsgiTransport(engines),
        access_log=AccessLog(log),
        background=False,
        limiter=limiter,
    )
    return app, log


# Half a minute into a one-minute rate-limit window: a test's requests all fall in one window, where on
# the real wall clock a minute boundary during a burst would reset the counts.
MID_WINDOW_WALL = 60.0 * 1_000_000 + 30.0


def mid_window_limiter() -> LocalLimiter:
    """A local limiter whose wall clock stands still in the middle of a window."""
    return LocalLimiter(lambda: MID_WINDOW_WALL)


@pytest.fixture
def gateway_factory() -> Callable[[dict[str, Any], dict[str, Any]], tuple[GatewayApp, io.BytesIO]]:
    return build_gateway


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LoopbackServer:
    """A uvicorn server on a free loopback port inside the test's event loop."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="error", lifespan="off", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> LoopbackServer:
        self.task = asyncio.create_task(self.server.serve())
        for _ in range(200):
            if self.server.started:
                return self
            await asyncio.sleep(0.01)
        raise RuntimeError("uvicorn did not start")

    async def stop(self) -> None:
        self.server.should_exit = True
        self.server.force_exit = True
        if self.task is not None:
            await asyncio.wait_for(self.task, 5)


@pytest.fixture
async def servers() -> AsyncIterator[Callable[..., Any]]:
    started: list[LoopbackServer] = []

    async def start(app: Any) -> LoopbackServer:
        server = await LoopbackServer(app).start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()
