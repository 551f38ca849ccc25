"""The gateway in front of simulated vLLM engines (infleet.sim.engine) on loopback sockets: the official
async openai client (chat, streaming, errors from injected engine faults) and failover when an engine
is killed during a load run."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import openai
import orjson
import pytest

from infleet.gateway.access_log import AccessLog
from infleet.gateway.app import GatewayApp
from infleet.gateway.config import parse_config
from infleet.sim.engine import EngineAddress, EngineHost, EngineSpec, FaultSpec
from tests.gateway.conftest import LoopbackServer, call, chat

MODEL = "meta-llama/Llama-3.2-1B-Instruct"
SERVED = "llama-3.2-1b-instruct"
MESSAGES: Any = [{"role": "user", "content": "hello there"}]


def gateway_config(addresses: list[EngineAddress], **extra: Any) -> dict[str, Any]:
    return {
        "models": [
            {
                "name": "llama",
                "profile": "round-robin",
                "backends": [{"url": a.url, "model": SERVED, "name": f"e{a.port}"} for a in addresses],
            }
        ],
        "health": {"interval": 0.2, "timeout": 0.3},
        "scrape": {"interval": 0.2},
        **extra,
    }


@pytest.fixture
async def host() -> AsyncIterator[EngineHost]:
    async with EngineHost() as h:
        yield h


async def start_engines(host: EngineHost, gpus: list[str]) -> list[EngineAddress]:
    return [await host.start(EngineSpec(model=MODEL, gpu=gpu, seed=i)) for i, gpu in enumerate(gpus)]


async def test_openai_client_through_the_gateway_to_simulated_engines(host: EngineHost) -> None:
    addresses = await start_engines(host, ["H100", "L4"])
    app = GatewayApp(parse_config(gateway_config(addresses, access_log={"enabled": False})))
    await app.startup()
    server = await LoopbackServer(app).start()
    client = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    try:
        replies = [
            await client.chat.completions.create(model="llama", messages=MESSAGES, max_tokens=6)
            for _ in range(4)
        ]
        for reply in replies:
            # The engine was asked for its own name (SERVED); the answer carries the name the client sent.
            assert reply.model == "llama" != SERVED
            assert reply.choices[0].message.content
            assert reply.usage is not None
            assert reply.usage.completion_tokens <= 6
        # Round-robin spread the four requests over both engines.
        assert all(sum(host.engine(a).success.values()) == 2 for a in addresses)

        stream = await client.chat.completions.create(
            model="llama", messages=MESSAGES, max_tokens=8, stream=True
        )
        chunks = [c async for c in stream]
        assert {c.model for c in chunks} == {"llama"}  # every chunk, not only the first
        pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
        assert len(pieces) >= 2
        assert "".join(pieces)

        # One engine fails every request: the gateway retries on the other, clients see no error.
        host.engine(addresses[0]).set_faults(FaultSpec(error_rate=1.0))
        for _ in range(4):
            ok = await client.chat.completions.create(model="llama", messages=MESSAGES, max_tokens=4)
            assert ok.choices[0].message.content
        # Every engine fails: the error reaches the client as an OpenAI-style server error.
        host.engine(addresses[1]).set_faults(FaultSpec(error_rate=1.0))
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model="llama", messages=MESSAGES, max_tokens=4)
    finally:
        await client.close()
        await server.stop()
        await app.shutdown()


async def test_killing_a_simulated_engine_during_load_is_invisible_to_clients(host: EngineHost) -> None:
    addresses = await start_engines(host, ["H100", "A100-80GB", "L40S"])
    names = {f"e{a.port}": a for a in addresses}
    log = io.BytesIO()
    app = GatewayApp(parse_config(gateway_config(addresses)), access_log=AccessLog(log))
    await app.startup()
    statuses: list[int] = []
    stop_at = time.monotonic() + 2.5
    victim = addresses[1]

    async def client() -> None:
        while time.monotonic() < stop_at:
            reply = await call(app, "/v1/chat/completions", chat(max_tokens=4))
            statuses.append(reply.status)

    killed: list[float] = []

    async def killer() -> None:
        await asyncio.sleep(0.8)
        killed.append(time.time())
        await host.stop(victim)

    try:
        await asyncio.gather(*(client() for _ in range(12)), killer())
    finally:
        await app.shutdown()
    assert len(statuses) > 100
    killed_at = killed[0]
    assert [s for s in statuses if s != 200] == []
    entries = [orjson.loads(line) for line in log.getvalue().splitlines()]
    served = [(e["ts"], names.get(e["backend"])) for e in entries if e.get("backend") in names]
    assert any(a == victim for t, a in served if t < killed_at)
    late = [a for t, a in served if t > killed_at + 1.0]
    assert late
    assert victim not in late
