"""The engines' HTTP/1.1 server over real sockets: framing, keep-alive, pipelining, limits, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from infleet.sim.engine.runtime import http_server
from infleet.sim.engine.runtime.http_server import HttpServer, Request, Response

_TEXT = [(b"content-type", b"text/plain")]


class Echo:
    """Answers ``/echo`` with the request, ``/stream`` in three chunks a tick apart, ``/boom`` by raising."""

    def __init__(self) -> None:
        self.stream_closed = asyncio.Event()

    def __call__(self, request: Request, response: Response) -> None:
        if request.path == "/boom":
            raise RuntimeError("handler bug")
        if request.path == "/stream":
            response.start(200, _TEXT)
            response.on_close = self._on_close
            loop = asyncio.get_running_loop()
            for i in range(3):
                loop.call_later(0.01 * (i + 1), response.write, f"part{i};".encode())
            loop.call_later(0.05, response.end, b"end")
            return
        body = f"{request.method} {request.path}?{request.query} {request.header(b'x-tag')} ".encode()
        response.send(200, body + request.body, _TEXT)

    def _on_close(self) -> None:
        self.stream_closed.set()


@pytest.fixture
async def echo() -> AsyncIterator[tuple[Echo, int]]:
    app = Echo()
    server = HttpServer(app, keep_alive_timeout_s=0.2)
    port = await server.listen("127.0.0.1", 0)
    yield app, port
    await server.close()


async def _exchange(port: int, raw: bytes, *, until: bytes = b"") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    data = b""
    try:
        async with asyncio.timeout(2):
            while not (until and until in data):
                chunk = await reader.read(65536)
                if not chunk:
                    break
                data += chunk
    finally:
        writer.close()
    return data


async def test_keep_alive_requests_and_chunked_streams_through_httpx(echo: tuple[Echo, int]) -> None:
    _, port = echo
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        r = await http.post("/echo?a=1", content=b"payload", headers={"x-tag": "t1"})
        assert r.text == "POST /echo?a=1 t1 payload"
        assert r.headers["content-length"] == str(len(r.content))
        r = await http.get("/stream")
        assert r.text == "part0;part1;part2;end"
        assert r.headers["transfer-encoding"] == "chunked"
        head = await http.head("/echo")
        assert head.status_code == 200
        assert head.content == b""
        assert (await http.get("/echo")).text == "GET /echo? None "


async def test_pipelined_requests_are_answered_in_order(echo: tuple[Echo, int]) -> None:
    _, port = echo
    raw = (
        b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n"
        b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc"
        b"GET /echo?last HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    data = await _exchange(port, raw)
    stream_at = data.find(b"part0;")
    assert 0 < stream_at < data.find(b"POST /echo? None abc") < data.find(b"?last")
    assert data.count(b"HTTP/1.1 200 OK") == 3
    assert b"connection: close" in data


async def test_chunked_request_body_and_expect_continue(echo: tuple[Echo, int]) -> None:
    _, port = echo
    raw = (
        b"POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nexpect: 100-continue\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    data = await _exchange(port, raw, until=b"abcde")
    assert data.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")
    assert data.endswith(b"POST /echo? None abcde")


async def test_malformed_and_oversized_requests_are_refused_and_closed(
    echo: tuple[Echo, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, port = echo
    data = await _exchange(port, b"NOT HTTP AT ALL\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 400 Bad Request")
    assert b"malformed HTTP request" in data
    monkeypatch.setattr(http_server, "MAX_BODY_BYTES", 10)
    data = await _exchange(port, b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 11\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 413 Request Entity Too Large")
    assert b"over 10 bytes" in data
    data = await _exchange(port, b"GET /echo HTTP/1.1\r\nx-big: " + b"a" * 70_000 + b"\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 431")


async def test_a_failing_handler_answers_500_and_the_connection_lives_on(echo: tuple[Echo, int]) -> None:
    _, port = echo
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        assert (await http.get("/boom")).status_code == 500
        assert (await http.get("/echo")).status_code == 200


async def test_idle_connections_close_after_the_keep_alive_timeout(echo: tuple[Echo, int]) -> None:
    _, port = echo
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /echo HTTP/1.1\r\nhost: x\r\n\r\n")
    async with asyncio.timeout(2):
        first = await reader.read(65536)
        assert first.startswith(b"HTTP/1.1 200 OK")
        assert await reader.read(65536) == b""  # closed by the server after 0.2 s idle
    writer.close()


async def test_a_client_leaving_mid_stream_calls_on_close(echo: tuple[Echo, int]) -> None:
    app, port = echo
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
    await reader.readuntil(b"\r\n\r\n")
    writer.close()
    await writer.wait_closed()
    async with asyncio.timeout(2):
        await app.stream_closed.wait()
