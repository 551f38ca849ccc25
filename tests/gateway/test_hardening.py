"""The gateway's doors are bounded: slow and idle clients time out, connections are capped, every
"not now" says when to come back, priority is the key's to grant, request ids are bounded, internal
addresses stay internal, readiness means a replica can take a request, and a returning replica takes
traffic within a second."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import orjson
import pytest
import uvicorn

from infleet.gateway.app import GatewayApp
from infleet.gateway.config import hash_key, parse_config
from infleet.gateway.http_protocol import guarded_protocol
from tests.gateway.conftest import (
    FakeEngine,
    LoopbackServer,
    build_gateway,
    call,
    chat,
    mid_window_limiter,
)

A = "http://a:8000"


def one_model(*urls: str, **top: Any) -> dict[str, Any]:
    backends = [{"url": url, "model": "m"} for url in urls]
    return {
        "models": [{"name": "llama", "backends": backends}],
        "health": {"enabled": False},
        "scrape": {"enabled": False},
        **top,
    }


class GuardedServer:
    """The gateway app behind the gateway's own HTTP protocol, on a loopback socket."""

    def __init__(self, app: Any, header_timeout: float, max_connections: int = 100) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            http=guarded_protocol(header_timeout, max_connections),
            log_level="error",
            lifespan="off",
            access_log=False,
            timeout_keep_alive=5,
        )
        self.server = uvicorn.Server(config)

    async def __aenter__(self) -> GuardedServer:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        for _ in range(500):
            if self.server.started:
                return self
            await asyncio.sleep(0.01)
        raise RuntimeError("uvicorn did not start")

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        await self.task

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)


@pytest.fixture
def open_gateway() -> GatewayApp:
    app, _ = build_gateway(one_model(A, server={"body_timeout": 0.3}), {A: FakeEngine("m")})
    return app


async def test_a_client_that_never_finishes_its_headers_is_cut_off(open_gateway: GatewayApp) -> None:
    async with GuardedServer(open_gateway, header_timeout=0.3) as server:
        reader, writer = await server.connect()
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")  # and nothing more
        started = time.monotonic()
        answer = await asyncio.wait_for(reader.read(), timeout=3)
        assert answer.startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < 1.5
        silent_reader, _ = await server.connect()  # connects and sends nothing at all
        assert (await asyncio.wait_for(silent_reader.read(), timeout=3)).startswith(b"HTTP/1.1 408")


async def test_a_prompt_client_is_not_cut_off(open_gateway: GatewayApp) -> None:
    async with GuardedServer(open_gateway, header_timeout=0.3) as server:
        reader, writer = await server.connect()
        body = orjson.dumps(chat(model="llama"))
        for _ in range(2):  # two requests on one kept-alive connection, the second after the timeout
            head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            writer.write(head + b"content-length: %d\r\n\r\n" % len(body) + body)
            status = await asyncio.wait_for(reader.readline(), timeout=3)
            assert status.startswith(b"HTTP/1.1 200"), status
            length = 0
            while (line := await reader.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            await asyncio.sleep(0.4)


async def test_a_body_that_never_ends_gets_408(open_gateway: GatewayApp) -> None:
    async with GuardedServer(open_gateway, header_timeout=5) as server:
        reader, writer = await server.connect()
        writer.write(b'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"mo')
        answer = await asyncio.wait_for(reader.read(), timeout=3)
        assert answer.startswith(b"HTTP/1.1 408"), answer


async def test_connections_past_the_cap_get_503_with_retry_after(open_gateway: GatewayApp) -> None:
    async with GuardedServer(open_gateway, header_timeout=5, max_connections=2) as server:
        held = [await server.connect() for _ in range(2)]
        reader, _ = await server.connect()
        answer = await asyncio.wait_for(reader.read(), timeout=3)
        assert answer.startswith(b"HTTP/1.1 503")
        assert b"retry-after: 1" in answer.lower()
        for _, writer in held:
            writer.close()


async def test_every_503_and_429_says_when_to_retry() -> None:
    # A refuses connections and fails its checks: nothing can serve (panic routing would still try it).
    app, _ = build_gateway(one_model(A, health={"enabled": False, "panic_threshold": 0}), {})
    for replica in app.table.replicas():
        replica.healthy = False
    no_replica = await call(app, "/v1/chat/completions", chat(model="llama"))
    assert no_replica.status == 503
    assert no_replica.headers[b"retry-after"] == b"1"
    not_ready = await call(app, "/health/readiness", method="GET")
    assert not_ready.status == 503
    assert not_ready.headers[b"retry-after"] == b"1"
    limited, _ = build_gateway(
        one_model(A, keys=[{"name": "k", "hash": "sha256:" + hash_key("sk-1"), "rpm": 1}]),
        {A: FakeEngine("m")},
        mid_window_limiter(),
    )
    headers = {"authorization": "Bearer sk-1"}
    assert (await call(limited, "/v1/chat/completions", chat(model="llama"), headers=headers)).status == 200
    refused = await call(limited, "/v1/chat/completions", chat(model="llama"), headers=headers)
    assert refused.status == 429
    assert int(refused.headers[b"retry-after"]) >= 1


async def test_priority_is_granted_per_key() -> None:
    keys = [
        {"name": "batch", "hash": "sha256:" + hash_key("sk-batch")},
        {"name": "pager", "hash": "sha256:" + hash_key("sk-pager"), "priority": "critical"},
    ]
    app, log = build_gateway(one_model(A, keys=keys, access_log={"enabled": True}), {A: FakeEngine("m")})
    for key in ("sk-batch", "sk-pager"):
        headers = {"authorization": f"Bearer {key}", "x-infleet-priority": "critical"}
        assert (await call(app, "/v1/chat/completions", chat(model="llama"), headers=headers)).status == 200
    app.proxy.access_log.flush()  # type: ignore[union-attr]
    records = [orjson.loads(line) for line in log.getvalue().splitlines()]
    assert [(r["key"], r["priority"]) for r in records] == [("batch", "standard"), ("pager", "critical")]


async def test_request_ids_are_bounded() -> None:
    app, _ = build_gateway(one_model(A), {A: FakeEngine("m")})
    kept = await call(app, "/v1/chat/completions", chat(model="llama"), headers={"x-request-id": "trace-42"})
    assert kept.headers[b"x-request-id"] == b"trace-42"
    for hostile in ("x" * 10_000, "a\tb", "<script>"):
        reply = await call(
            app, "/v1/chat/completions", chat(model="llama"), headers={"x-request-id": hostile}
        )
        assert reply.status == 200
        echoed = reply.headers[b"x-request-id"].decode()
        assert echoed != hostile
        assert 0 < len(echoed) <= 128


async def test_no_internal_address_reaches_the_client() -> None:
    app, _ = build_gateway(one_model(A), {A: FakeEngine("m")})
    ok = await call(app, "/v1/chat/completions", chat(model="llama"))
    assert b"a:8000" not in ok.headers[b"x-infleet-backend"]
    dead, _ = build_gateway(one_model(A), {})
    failed = await call(dead, "/v1/chat/completions", chat(model="llama"))
    assert failed.status in (502, 503)
    assert b"a:8000" not in failed.body
    assert all(b"a:8000" not in value for value in failed.headers.values())


async def test_readiness_needs_a_confirmed_routable_replica() -> None:
    engine = FakeEngine("m")
    config = one_model(A)
    config["health"] = {"enabled": True}
    app, _ = build_gateway(config, {A: engine})
    assert (await call(app, "/health/readiness", method="GET")).status == 503  # not probed yet
    (replica,) = app.table.replicas()
    await app.health.check(replica)
    ready = await call(app, "/health/readiness", method="GET")
    assert ready.status == 200
    assert ready.json()["routable_replicas"] == 1
    replica.cooldown_until = app.proxy.clock.now() + 60
    assert (await call(app, "/health/readiness", method="GET")).status == 503


async def test_a_returning_replica_takes_traffic_within_a_second() -> None:
    engine_port = LoopbackServer(FakeEngine("m")).port
    url = f"http://127.0.0.1:{engine_port}"
    config = one_model(url)
    config["health"] = {"enabled": True, "interval": 0.2, "timeout": 0.2}
    app = GatewayApp(parse_config(config))
    await app.startup()
    try:
        down = await call(app, "/v1/chat/completions", chat(model="llama"))
        assert down.status in (502, 503)  # refused: the replica cools down
        engine = await LoopbackServer(FakeEngine("m"), port=engine_port).start()
        returned = time.monotonic()
        while (await call(app, "/v1/chat/completions", chat(model="llama"))).status != 200:
            assert time.monotonic() - returned < 1.0, "the replica was back but took no traffic"
            await asyncio.sleep(0.05)
        await engine.stop()
    finally:
        await app.shutdown()
