"""The gateway reads time only through its injected clock: cooldowns end, rate-limit windows roll and
access-log timestamps move when a manual clock is advanced, not when real time passes."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import orjson

from infleet.gateway.access_log import AccessLog
from infleet.gateway.app import GatewayApp
from infleet.gateway.asgi_transport import AsgiTransport
from infleet.gateway.config import parse_config
from infleet.kube.clock import ManualClock
from tests.gateway.conftest import FakeEngine, call, chat

A, B = "http://a:8000", "http://b:8000"


def gateway(config: dict[str, Any], engines: dict[str, Any], clock: ManualClock) -> GatewayApp:
    config = {"health": {"enabled": False}, "scrape": {"enabled": False}, **config}
    return GatewayApp(
        parse_config(config),
        transport=AsgiTransport(engines),
        access_log=AccessLog(io.BytesIO()),
        background=False,
        clock=clock,
    )


async def test_an_ejected_replica_returns_when_the_clock_passes_its_cooldown() -> None:
    clock = ManualClock()
    failing, good = FakeEngine("m", fail_status=503), FakeEngine("m", name="good")
    config = {
        "models": [
            {"name": "llama", "profile": "round-robin", "backends": [{"url": A}, {"url": B}]},
        ],
        "outlier": {"consecutive_failures": 1, "cooldown": 30.0},
    }
    app = gateway(config, {A: failing, B: good}, clock)
    for _ in range(2):  # round-robin reaches the failing replica within two requests
        assert (await call(app, "/v1/chat/completions", chat())).status == 200
    assert failing.requests == 1
    ejected = next(r for r in app.table.replicas() if r.origin.host == "a")
    assert ejected.cooldown_until == clock.now() + 30.0

    for _ in range(4):
        assert (await call(app, "/v1/chat/completions", chat())).status == 200
    assert failing.requests == 1  # cooling down on the gateway's clock

    await clock.advance(30.0)
    for _ in range(2):
        await call(app, "/v1/chat/completions", chat())
    assert failing.requests == 2


async def test_rate_limit_windows_roll_with_the_clock() -> None:
    clock = ManualClock(wall_start=60.0 * 1_000_000)  # at the start of a one-minute window
    digest = hashlib.sha256(b"sk-k").hexdigest()
    config = {
        "models": [{"name": "llama", "backends": [{"url": A}]}],
        "keys": [{"name": "k", "hash": f"sha256:{digest}", "rpm": 2}],
    }
    app = gateway(config, {A: FakeEngine("llama")}, clock)
    auth = {"authorization": "Bearer sk-k"}
    statuses = [(await call(app, "/v1/chat/completions", chat(), headers=auth)).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    await clock.advance(59.0)
    limited = await call(app, "/v1/chat/completions", chat(), headers=auth)
    assert limited.status == 429
    assert limited.headers[b"retry-after"] == b"1"
    await clock.advance(1.0)
    assert (await call(app, "/v1/chat/completions", chat(), headers=auth)).status == 200


async def test_access_log_timestamps_and_durations_come_from_the_clock() -> None:
    clock = ManualClock(wall_start=1_800_000_000.0)
    log = io.BytesIO()
    app = GatewayApp(
        parse_config({"models": [{"name": "llama", "backends": [{"url": A}]}]}),
        transport=AsgiTransport({A: FakeEngine("llama")}),
        access_log=AccessLog(log),
        background=False,
        clock=clock,
    )
    reply = await call(app, "/v1/chat/completions", chat())
    assert reply.headers[b"x-infleet-overhead-ms"] == b"0.000"
    assert app.proxy.access_log is not None
    app.proxy.access_log.flush()
    record = orjson.loads(log.getvalue().splitlines()[0])
    assert record["ts"] == 1_800_000_000.0
    assert record["duration_ms"] == 0.0
