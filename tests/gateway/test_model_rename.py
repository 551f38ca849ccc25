"""Answers carry the name the client asked for (an alias, the public name), not the engine's served name:
the whole body, and every SSE chunk even when the field is split across chunks; nothing is touched when
the names are the same."""

from __future__ import annotations

from typing import Any

import orjson

from infleet.gateway.model_rename import ModelRename, model_field
from tests.gateway.conftest import FakeEngine, build_gateway, call, chat

A = "http://a:8000"


def gateway(served: str) -> Any:
    model = {"name": "llama", "aliases": ["llama3"], "backends": [{"url": A, "model": served}]}
    config = {"models": [model], "health": {"enabled": False}, "scrape": {"enabled": False}}
    return build_gateway(config, {A: FakeEngine(served)})[0]


def events(body: bytes) -> list[dict[str, Any]]:
    lines = [line[6:] for line in body.split(b"\n") if line.startswith(b"data: {")]
    return [orjson.loads(line) for line in lines]


async def test_a_whole_answer_names_the_alias_or_public_name_asked_for() -> None:
    app = gateway("meta-llama/Llama-3.2-1B")
    for asked in ("llama", "llama3"):
        reply = await call(app, "/v1/chat/completions", chat(asked))
        assert reply.status == 200
        assert reply.json()["model"] == asked
        assert int(reply.headers[b"content-length"]) == len(reply.body)


async def test_every_stream_chunk_names_the_model_asked_for() -> None:
    app = gateway("meta-llama/Llama-3.2-1B")
    reply = await call(app, "/v1/chat/completions", chat("llama3", stream=True))
    assert reply.status == 200
    chunks = events(reply.body)
    assert len(chunks) >= 2
    assert {c["model"] for c in chunks} == {"llama3"}
    assert reply.body.rstrip().endswith(b"data: [DONE]")


async def test_same_names_leave_the_answer_alone() -> None:
    app = gateway("llama")
    reply = await call(app, "/v1/chat/completions", chat("llama"))
    assert reply.json()["model"] == "llama"


def test_a_field_split_across_chunks_is_still_rewritten_and_nothing_is_lost() -> None:
    stream = b'data: {"id":"1","model":"served/x","x":"a"}\n\ndata: {"model":"served/x"}\n\ndata: [DONE]\n\n'
    expected = stream.replace(b'"served/x"', b'"pub"')
    for cut in range(1, len(stream)):
        rename = ModelRename.between(model_field("served/x"), "served/x", "pub")
        assert rename is not None
        out = rename.chunk(stream[:cut]) + rename.chunk(stream[cut:]) + rename.rest()
        assert out == expected, cut


def test_names_with_quotes_are_escaped_like_json() -> None:
    assert model_field('a"b') == b'"model":"a\\"b"'
    assert ModelRename.between(model_field("x"), "x", "x") is None
