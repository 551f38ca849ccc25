"""The engine validates requests as vLLM does: a bad parameter is a 400 in vLLM's error shape naming
the field, oversized bodies are refused, every request is answered, and /admin needs its token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from infleet.sim.engine import EngineAddress, EngineHost, EngineSpec

MODEL = "llama-3.1-8b-instruct"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
COMPLETION = {"model": MODEL, "prompt": "hi", "max_tokens": 4}


@pytest.fixture
async def engine() -> AsyncIterator[tuple[EngineHost, EngineAddress]]:
    async with EngineHost(admin_token="sk-admin") as host:
        yield host, await host.start(EngineSpec(model=MODEL, gpu="H100", max_model_len=4096))


@pytest.fixture
async def http(engine: tuple[EngineHost, EngineAddress]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=engine[1].url, timeout=10) as client:
        yield client


def bad_request(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "BadRequestError"
    assert error["code"] == 400
    assert field in error["message"], error


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"temperature": -1}, "temperature"),
        ({"top_p": 2}, "top_p"),
        ({"top_p": 0}, "top_p"),
        ({"presence_penalty": 3}, "presence_penalty"),
        ({"frequency_penalty": -2.5}, "frequency_penalty"),
        ({"repetition_penalty": 0}, "repetition_penalty"),
        ({"top_k": -2}, "top_k"),
        ({"stream": "yes"}, "stream"),
        ({"max_tokens": "10"}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"n": 0}, "n"),
        ({"temperature": "0.5"}, "temperature"),
        ({"top_logprobs": 21}, "top_logprobs"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "role"),
        ({"messages": [{"role": "user", "content": 5}]}, "content"),
        ({"messages": []}, "messages"),
    ],
)
async def test_chat_parameters_vllm_refuses_are_refused(
    http: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    bad_request(await http.post("/v1/chat/completions", json={**CHAT, **change}), field)


@pytest.mark.parametrize(
    ("prompt", "field"),
    [
        ([], "prompt"),
        ("", "prompt"),
        ([[]], "prompt"),
        ([1, 2, 1 << 40], "out of vocabulary"),
        ([-1], "out of vocabulary"),
        ([[5, 6], [1 << 20]], "out of vocabulary"),
    ],
)
async def test_prompts_vllm_refuses_are_refused(http: httpx.AsyncClient, prompt: Any, field: str) -> None:
    bad_request(await http.post("/v1/completions", json={**COMPLETION, "prompt": prompt}), field)


async def test_valid_parameters_are_still_served(http: httpx.AsyncClient) -> None:
    body = {**CHAT, "temperature": 1, "top_p": 1, "presence_penalty": -2, "top_k": -1, "stream": False}
    assert (await http.post("/v1/chat/completions", json=body)).status_code == 200
    tokens = (await http.post("/tokenize", json={"model": MODEL, "prompt": "hello there"})).json()["tokens"]
    assert (await http.post("/v1/completions", json={**COMPLETION, "prompt": tokens})).status_code == 200


async def test_a_body_over_the_limit_is_refused_before_it_is_read(
    engine: tuple[EngineHost, EngineAddress],
) -> None:
    _, address = engine
    reader, writer = await asyncio.open_connection(address.host, address.port)
    writer.write(b"POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % (50 << 20))
    answer = await asyncio.wait_for(reader.read(), timeout=5)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert orjson.loads(body)["error"]["code"] == 413
    writer.close()


async def test_admin_endpoints_need_the_admin_token(http: httpx.AsyncClient) -> None:
    fault = {"spec": "error_rate=0.5"}
    assert (await http.post("/admin/faults", json=fault)).status_code == 401
    wrong = {"authorization": "Bearer nope"}
    assert (await http.post("/admin/faults", json=fault, headers=wrong)).status_code == 401
    assert (await http.get("/admin/faults")).status_code == 401
    right = {"authorization": "Bearer sk-admin"}
    assert (await http.post("/admin/faults", json=fault, headers=right)).status_code == 200
    assert (await http.get("/admin/faults", headers=right)).json()["faults"]["error_rate"] == 0.5


async def test_admin_endpoints_are_off_without_a_token() -> None:
    async with EngineHost() as host:
        address = await host.start(EngineSpec(model=MODEL, gpu="H100", max_model_len=4096))
        async with httpx.AsyncClient(base_url=address.url) as client:
            response = await client.post("/admin/faults", json={"spec": "crash"})
        assert response.status_code == 403
        assert "--admin-token" in response.json()["error"]["message"]
        assert host.engine(address).health() == "ok"
