"""Health probes and a late event loop: a probe that timed out only because the gateway's own loop was
blocked past its deadline is sent again at once instead of counting as a failure; a second late timeout
counts, and a timeout noticed on time is never sent again."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from infleet.gateway.app import GatewayApp
from infleet.gateway.replica import Replica
from tests.gateway.conftest import build_gateway, call

URL = "http://r0:8000"
TIMEOUT = 0.1
STALL = TIMEOUT + 0.2  # the loop is blocked well past the probe's deadline


class ScriptedHealth:
    """An engine whose /health follows a script, one step per probe: `ok` answers 200, `hang` never
    answers (the probe times out on time), `stall` blocks the whole event loop past the probe's deadline
    and then never answers (the timeout is noticed late)."""

    def __init__(self, *steps: str) -> None:
        self.steps = list(steps)
        self.probes = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.probes += 1
        step = self.steps.pop(0)
        if step == "stall":
            time.sleep(STALL)  # noqa: ASYNC251 - blocking the loop is the point
        if step in ("stall", "hang"):
            await asyncio.sleep(30)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def gateway(engine: ScriptedHealth) -> tuple[GatewayApp, Replica]:
    config = {
        "models": [{"name": "llama", "backends": [{"url": URL, "model": "m", "name": "r0"}]}],
        "health": {"enabled": False, "timeout": TIMEOUT, "unhealthy_after": 1, "panic_threshold": 0},
        "scrape": {"enabled": False},
    }
    app, _ = build_gateway(config, {URL: engine})
    return app, app.table.replicas()[0]


async def late_probes(app: GatewayApp) -> float:
    metrics = (await call(app, "/metrics", method="GET")).body.decode()
    line = next(x for x in metrics.splitlines() if x.startswith("infleet_gateway_health_checks_late_total "))
    return float(line.rsplit(" ", 1)[1])


async def test_a_probe_timed_out_by_a_blocked_loop_is_sent_again_and_the_answer_counts() -> None:
    engine = ScriptedHealth("stall", "ok")
    app, replica = gateway(engine)
    await app.health.check(replica)
    assert engine.probes == 2
    assert replica.healthy
    assert replica.health_failures == 0
    assert await late_probes(app) == 1


async def test_a_second_late_timeout_counts_as_a_failure() -> None:
    engine = ScriptedHealth("stall", "stall")
    app, replica = gateway(engine)
    await app.health.check(replica)
    assert engine.probes == 2  # one retry only: a loop that stays late cannot hide a hung replica
    assert not replica.healthy
    assert await late_probes(app) == 1


async def test_a_timeout_noticed_on_time_counts_at_once() -> None:
    engine = ScriptedHealth("hang", "ok")
    app, replica = gateway(engine)
    await app.health.check(replica)
    assert engine.probes == 1  # a hung replica is out after one timeout, not two
    assert not replica.healthy
    assert replica.health_failures == 1
    assert await late_probes(app) == 0
