"""The socket transport against a real uvicorn engine on loopback: keep-alive reuse, streaming,
connect errors, deadlines, and a pooled connection the server closed while idle."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from infleet.gateway.http_pool import HttpPool
from infleet.gateway.transport import Origin, UpstreamConnectError, UpstreamTimeoutError, read_body
from tests.gateway.conftest import FakeEngine, free_port

BODY = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})


async def test_reuses_connections_and_reads_bodies(servers: Any) -> None:
    server = await servers(FakeEngine("m"))
    pool = HttpPool()
    origin = Origin.parse(server.url)
    loop = asyncio.get_running_loop()
    for _ in range(3):
        t = loop.time() + 5
        response = await pool.send(origin, b"POST", b"/v1/chat/completions", [], [BODY], t, t)
        data = await read_body(response, t)
        response.close()
        assert response.status == 200
        assert orjson.loads(data)["usage"]["completion_tokens"] == 5
    assert len(pool._idle[origin]) == 1
    await pool.close()


async def test_streams_chunks_as_they_arrive(servers: Any) -> None:
    server = await servers(FakeEngine("m"))
    pool = HttpPool()
    loop = asyncio.get_running_loop()
    t = loop.time() + 5
    body = orjson.dumps({"model": "m", "stream": True, "messages": []})
    response = await pool.send(Origin.parse(server.url), b"POST", b"/v1/chat/completions", [], [body], t, t)
    chunks = []
    while chunk := await response.next_chunk(t):
        chunks.append(chunk)
    response.close()
    assert len(chunks) > 3
    assert b"".join(chunks).endswith(b"data: [DONE]\n\n")
    await pool.close()


async def test_connect_error_and_header_deadline(servers: Any) -> None:
    pool = HttpPool()
    loop = asyncio.get_running_loop()
    t = loop.time() + 2
    with pytest.raises(UpstreamConnectError):
        await pool.send(Origin.parse(f"http://127.0.0.1:{free_port()}"), b"GET", b"/", [], (), t, t)

    async def silent(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.sleep(5)

    server = await servers(silent)
    start = loop.time()
    with pytest.raises(UpstreamTimeoutError):
        await pool.send(Origin.parse(server.url), b"GET", b"/", [], (), start + 2, start + 0.2)
    assert loop.time() - start < 1.0
    await pool.close()


async def test_retries_once_when_an_idle_connection_was_closed() -> None:
    """The server answers the first request on each connection, then drops the connection when a
    second request arrives on it, as an upstream does when its keep-alive timer fired."""
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = HttpPool()
    origin = Origin.parse(f"http://127.0.0.1:{port}")
    loop = asyncio.get_running_loop()
    t = loop.time() + 5
    for _ in range(2):
        response = await pool.send(origin, b"GET", b"/", [], (), t, t)
        assert await read_body(response, t) == b"ok"
        response.close()
    assert connections == 2  # the second request was replayed on a fresh connection
    await pool.close()
    server.close()
