"""A minimal OpenAI-compatible responder standing in for the simulated engine behind the engine hook.

It answers ``/health``, ``/v1/models`` and non-streaming ``/v1/chat/completions`` with a fixed echo, so
Services, Endpoints and clients can be exercised; it models no performance. One uvicorn server per pod,
on the pod's loopback IP when the OS allows it (Linux routes all of 127.0.0.0/8), else 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Generator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from infleet.sim.engine_launcher import EngineEndpoint, EngineSpec


def engine_app(spec: EngineSpec) -> Starlette:
    served = spec.model.rsplit("/", 1)[-1].lower()

    async def health(_: Request) -> Response:
        return Response(status_code=200)

    async def models(_: Request) -> JSONResponse:
        card = {"id": served, "object": "model", "created": 0, "owned_by": "infleet-sim", "root": spec.model}
        return JSONResponse({"object": "list", "data": [card]})

    async def chat(request: Request) -> JSONResponse:
        body: Any = await request.json()
        if not isinstance(body, dict) or body.get("model") not in (served, spec.model):
            message = f"The model `{body.get('model') if isinstance(body, dict) else None}` does not exist."
            error = {"message": message, "type": "NotFoundError", "param": None, "code": 404}
            return JSONResponse({"error": error, "object": "error"}, status_code=404)
        last = (body.get("messages") or [{}])[-1].get("content", "")
        text = f"[{served} on {spec.pod}] {str(last)[:200]}"
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return JSONResponse(
            {
                "id": f"chatcmpl-{spec.uid[:8]}{time.time_ns() % 10**6}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": served,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": usage,
            }
        )

    routes = [
        Route("/health", health),
        Route("/v1/models", models),
        Route("/v1/chat/completions", chat, methods=["POST"]),
    ]
    return Starlette(routes=routes)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the owning process handles signals


def _bind(host: str, port: int) -> socket.socket:
    for candidate in ((host, port), (host, 0), ("127.0.0.1", 0)):
        # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(candidate)
        except OSError:
            sock.close()
            continue
        sock.listen(128)
        sock.setblocking(False)
        return sock
    raise OSError(f"no loopback address to bind for {host}:{port}")


class MiniEngineLauncher:
    """An :class:`~infleet.sim.engine_launcher.EngineLauncher` running :func:`engine_app` per pod."""

    def __init__(self) -> None:
        self._servers: dict[str, tuple[_Server, asyncio.Task[None]]] = {}

    async def start(self, spec: EngineSpec) -> EngineEndpoint:
        await self.stop(spec.uid)
        sock = _bind(spec.host, spec.port)
        host, port = sock.getsockname()[:2]
        config = uvicorn.Config(engine_app(spec), log_level="warning", access_log=False, lifespan="off")
        server = _Server(config)
        task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        self._servers[spec.uid] = (server, task)
        async with asyncio.timeout(5):
            while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn exposes only a flag)
                await asyncio.sleep(0.01)
        return EngineEndpoint(str(host), int(port))

    async def stop(self, uid: str) -> None:
        entry = self._servers.pop(uid, None)
        if entry is None:
            return
        server, task = entry
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 5)

    async def close(self) -> None:
        for uid in list(self._servers):
            await self.stop(uid)

    @property
    def running(self) -> int:
        return len(self._servers)
