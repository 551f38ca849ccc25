"""Failover under load with real sockets: a backend is killed mid-run; non-streaming clients see no
failure and traffic leaves the dead backend within one second, also when a stalled event loop makes
every health probe of that moment time out (panic routing keeps the live replicas in use)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from infleet.gateway.app import GatewayApp
from infleet.gateway.config import parse_config
from infleet.gateway.replica import Replica
from tests.gateway.conftest import EngineModel, FakeEngine, call, chat

STALL = 0.4  # longer than the probes' 0.3 s timeout: a GC pause or a starved CPU on a loaded machine


@dataclass
class Run:
    app: GatewayApp
    killed_at: float
    results: list[tuple[float, int, bytes]]
    stalled_round: dict[str, bool] = field(default_factory=dict)  # probe results of the stalled round


async def failover_run(servers: Any, stall_probes: bool = False) -> Run:
    """16 in-process clients for 2.5 s over three engines; engine b is stopped at 0.8 s. With
    `stall_probes`, the event loop is blocked for STALL seconds while the first probe round after
    0.3 s past the kill is in flight."""
    model = EngineModel(prefill_tokens_per_s=1e6, decode_s_per_token=0.001, output_tokens=5, max_num_seqs=64)
    engines = {name: await servers(FakeEngine("m", model, name=name)) for name in ("a", "b", "c")}
    config = parse_config(
        {
            "models": [
                {
                    "name": "llama",
                    "profile": "round-robin",
                    "backends": [{"url": s.url, "model": "m", "name": n} for n, s in engines.items()],
                }
            ],
            "health": {"interval": 0.2, "timeout": 0.3},
            "scrape": {"interval": 0.2},
            "access_log": {"enabled": False},
        }
    )
    app = GatewayApp(config)
    run = Run(app, float("inf"), [])
    if stall_probes:
        stall_after_probing(app, run)
    await app.startup()
    stop_at = time.monotonic() + 2.5

    async def client() -> None:
        while time.monotonic() < stop_at:
            reply = await call(app, "/v1/chat/completions", chat())
            run.results.append((time.monotonic(), reply.status, reply.headers.get(b"x-engine", b"")))

    async def killer() -> None:
        await asyncio.sleep(0.8)
        run.killed_at = time.monotonic()
        await engines["b"].stop()

    try:
        await asyncio.gather(*(client() for _ in range(16)), killer())
    finally:
        await app.shutdown()
    return run


def stall_after_probing(app: GatewayApp, run: Run) -> None:
    """Blocks the loop once every probe of one round was sent, so each one misses its deadline."""
    probe = app.health.probe
    last = app.table.replicas()[-1]

    async def stalling_probe(replica: Replica) -> bool:
        stalling = time.monotonic() > run.killed_at + 0.3 and not run.stalled_round
        sent = asyncio.ensure_future(probe(replica))
        if stalling and replica is last:
            asyncio.get_running_loop().call_soon(time.sleep, STALL)
        ok = await sent
        if stalling:
            run.stalled_round[replica.name] = ok
        return ok

    app.health.probe = stalling_probe  # type: ignore[method-assign]


def assert_failover_invisible(run: Run) -> None:
    results = run.results
    assert len(results) > 200
    assert [s for _, s, _ in results if s != 200] == []
    before = [e for t, _, e in results if t < run.killed_at]
    late = [e for t, _, e in results if t > run.killed_at + 1.0]
    assert b"b" in before
    assert late
    assert b"b" not in late
    dead = next(r for r in run.app.table.replicas() if r.name == "b")
    assert not dead.healthy or dead.cooldown_until > time.monotonic() - 3


async def test_killing_a_backend_during_load_is_invisible_to_clients(servers: Any) -> None:
    assert_failover_invisible(await failover_run(servers))


async def test_probes_that_time_out_on_a_stalled_loop_do_not_take_the_live_replicas_away(
    servers: Any,
) -> None:
    run = await failover_run(servers, stall_probes=True)
    # Every replica, live ones included, failed its probe in that round and was marked unhealthy.
    assert run.stalled_round == {"a": False, "b": False, "c": False}
    assert_failover_invisible(run)
