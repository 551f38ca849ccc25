"""Failover under load with real sockets: a backend is killed mid-run; non-streaming clients see no
failure and traffic leaves the dead backend within one second."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from infleet.gateway.app import GatewayApp
from infleet.gateway.config import parse_config
from tests.gateway.conftest import EngineModel, FakeEngine, call, chat


async def test_killing_a_backend_during_load_is_invisible_to_clients(servers: Any) -> None:
    model = EngineModel(prefill_tokens_per_s=1e6, decode_s_per_token=0.001, output_tokens=5, max_num_seqs=64)
    engines = {name: await servers(FakeEngine("m", model, name=name)) for name in ("a", "b", "c")}
    config = parse_config(
        {
            "models": [
                {
                    "name": "llama",
                    "profile": "round-robin",
                    "backends": [{"url": s.url, "model": "m"} for s in engines.values()],
                }
            ],
            "health": {"interval": 0.2, "timeout": 0.3},
            "scrape": {"interval": 0.2},
            "access_log": {"enabled": False},
        }
    )
    app = GatewayApp(config)
    await app.startup()
    results: list[tuple[float, int, bytes]] = []
    stop_at = time.monotonic() + 2.5

    async def client() -> None:
        while time.monotonic() < stop_at:
            reply = await call(app, "/v1/chat/completions", chat())
            results.append((time.monotonic(), reply.status, reply.headers.get(b"x-engine", b"")))

    async def killer() -> float:
        await asyncio.sleep(0.8)
        killed_at = time.monotonic()
        await engines["b"].stop()
        return killed_at

    try:
        *_, killed_at = await asyncio.gather(*(client() for _ in range(16)), killer())
    finally:
        await app.shutdown()
    assert len(results) > 200
    assert [s for _, s, _ in results if s != 200] == []
    before = [e for t, _, e in results if t < killed_at]
    late = [e for t, _, e in results if t > killed_at + 1.0]
    assert b"b" in before
    assert late
    assert b"b" not in late
    dead = next(r for r in app.table.replicas() if r.origin.port == engines["b"].port)
    assert not dead.healthy or dead.cooldown_until > time.monotonic() - 3
