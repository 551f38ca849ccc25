"""Schemathesis against the gateway's OpenAPI document, over a simulated engine: generated requests
are answered, never with a 5xx while the engine is healthy, and every error is an OpenAI error body."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from infleet.gateway.app import GatewayApp
from infleet.gateway.config import hash_key, parse_config
from infleet.sim.engine import EngineHost, EngineSpec
from tests.fuzz.openapi_fuzz import EXAMPLES, fuzz
from tests.gateway.conftest import LoopbackServer

MODEL = "llama-3.1-8b-instruct"
KEY = "sk-fuzz"


@pytest.fixture
async def gateway_url() -> AsyncIterator[str]:
    async with EngineHost() as host:
        engine = await host.start(EngineSpec(model=MODEL, gpu="H100", max_model_len=512))
        config = {
            "models": [{"name": "llama", "backends": [{"url": engine.base_url, "model": MODEL}]}],
            "keys": [{"name": "fuzz", "hash": "sha256:" + hash_key(KEY), "models": ["llama"]}],
            "access_log": {"enabled": False},
        }
        app = GatewayApp(parse_config(config))
        await app.startup()
        server = await LoopbackServer(app).start()
        try:
            yield server.url
        finally:
            await server.stop()
            await app.shutdown()


async def test_generated_requests_are_answered_without_a_server_error(gateway_url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url) as client:
        document = (await client.get("/openapi.json")).json()
    # Most generated models are unknown (404); some requests name the served one.
    for name in ("ChatCompletionRequest", "CompletionRequest", "EmbeddingRequest"):
        document["components"]["schemas"][name]["properties"]["model"] = {"enum": ["llama", "absent"]}

    def check(case: Any, response: Any) -> None:
        where = f"{case.method} {case.formatted_path} {str(case.body)[:200]}"
        assert response.status_code < 500, f"{where}: {response.text[:300]}"
        if response.status_code >= 400 and case.formatted_path != "/health/readiness":
            assert orjson.loads(response.content)["error"]["message"], where

    report = await asyncio.to_thread(
        fuzz, document, gateway_url, check, EXAMPLES * 10, {"authorization": f"Bearer {KEY}"}
    )
    print(report.summary())
    assert report.failures == []
    assert report.statuses[200] > 0, report.summary()
