"""The manager's HTTP endpoints: ``/healthz``, ``/readyz`` and Prometheus ``/metrics``.

Served by uvicorn (Starlette routes) on a loopback port by default; port 0 picks a free one, readable
from :attr:`HealthServer.port` once :meth:`HealthServer.started` is set. The Manager runs it as a Runnable.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Generator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request as HTTPRequest
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

# A named check: returns None when fine, or a sentence saying what is not.
Check = Callable[[], str | None]


class _Server(uvicorn.Server):
    """Leaves signals to the Manager, which stops everything in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class HealthServer:
    def __init__(
        self,
        registry: CollectorRegistry,
        health_checks: dict[str, Check],
        ready_checks: dict[str, Check],
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.registry = registry
        self.health_checks = health_checks
        self.ready_checks = ready_checks
        self.host = host
        self.port = port
        self.started = asyncio.Event()
        self.needs_leader = False

    def _answer(self, checks: dict[str, Check]) -> Response:
        failures = [
            f"[-] {name}: {reason}" for name, check in checks.items() if (reason := check()) is not None
        ]
        if failures:
            return PlainTextResponse("\n".join(failures) + "\nnot ok\n", status_code=500)
        return PlainTextResponse("ok")

    def app(self) -> Starlette:
        async def healthz(_: HTTPRequest) -> Response:
            return self._answer(self.health_checks)

        async def readyz(_: HTTPRequest) -> Response:
            return self._answer(self.ready_checks)

        async def metrics(_: HTTPRequest) -> Response:
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

        return Starlette(
            routes=[Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]
        )

    async def run(self, stop: asyncio.Event) -> None:
        # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (no Nagle + delayed-ACK stalls).
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app(), log_level="warning", lifespan="off", access_log=False)
        server = _Server(config)
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn has a flag, no event)
            await asyncio.sleep(0.01)
        self.started.set()
        await asyncio.wait({task, asyncio.ensure_future(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        await task
