"""The stream relay: chunks pass as they come; a stream that ends before its [DONE] (the engine or its
node went away) or fails mid-way ends with an error event, so no client takes a cut answer for whole."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from infleet.gateway.stream_relay import relay_stream
from infleet.gateway.transport import UpstreamConnectError


class Chunks:
    status = 200
    headers: list[tuple[bytes, bytes]] = []

    def __init__(self, *chunks: bytes | Exception) -> None:
        self.chunks = list(chunks)

    async def next_chunk(self, deadline: float) -> bytes | None:
        item = self.chunks.pop(0) if self.chunks else b""
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> None:
        return None


async def relay(*chunks: bytes | Exception) -> bytes:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    loop = asyncio.get_running_loop()
    await relay_stream(Chunks(*chunks), send, "eu/r0", loop.time(), loop.time() + 10, 5.0, loop.time)
    return b"".join(message["body"] for message in sent)


def events(body: bytes) -> list[bytes]:
    return [line.removeprefix(b"data: ") for line in body.split(b"\n") if line.startswith(b"data: ")]


async def test_a_whole_stream_passes_unchanged() -> None:
    whole = b'data: {"choices":[]}\n\ndata: [DONE]\n\n'
    assert await relay(whole[:10], whole[10:]) == whole


async def test_the_first_byte_is_reported_once() -> None:
    firsts: list[float] = []

    async def send(message: dict[str, Any]) -> None:
        return None

    loop = asyncio.get_running_loop()
    chunks = Chunks(b"data: {}\n\n", b"data: {}\n\n", b"data: [DONE]\n\n")
    result = await relay_stream(
        chunks,
        send,
        "eu/r0",
        loop.time(),
        loop.time() + 10,
        5.0,
        loop.time,
        on_first=lambda: firsts.append(1.0),
    )
    assert firsts == [1.0]
    assert result.ttft is not None


async def test_a_stream_cut_before_its_end_gets_an_error_event() -> None:
    body = await relay(b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n')
    *_, error, done = events(body)
    assert done == b"[DONE]"
    assert orjson.loads(error)["error"]["message"] == "upstream eu/r0 ended the stream before it finished"


async def test_a_stream_that_fails_mid_way_gets_an_error_event() -> None:
    body = await relay(b'data: {"choices":[]}\n\n', UpstreamConnectError("connection reset"))
    *_, error, done = events(body)
    assert done == b"[DONE]"
    assert "failed mid-stream" in orjson.loads(error)["error"]["message"]
