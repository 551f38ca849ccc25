"""Failover under load with real sockets: a backend is killed mid-run; non-streaming clients see no
failure and traffic leaves the dead backend within one second. Two ways health checks go wrong at that
moment stay invisible too: a stalled event loop makes every probe time out late (they are sent again and
the live replicas pass), and live engines too slow to answer their probes fail every check on time
(panic routing keeps the live replicas in use)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
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
    engines: dict[str, Any]
    killed_at: float = float("inf")
    results: list[tuple[float, int, bytes]] = field(default_factory=list)
    disturbed_round: dict[str, bool] = field(default_factory=dict)  # probe results of the disturbed round


Disturbance = Callable[[Run], None]


async def failover_run(servers: Any, disturb: Disturbance | None = None, panic_threshold: float = 50) -> Run:
    """16 in-process clients for 2.5 s over three engines; engine b is stopped at 0.8 s. `disturb`
    spoils the first probe round after 0.3 s past the kill."""
    model = EngineModel(prefill_tokens_per_s=1e6, decode_s_per_token=0.001, output_tokens=5, max_num_seqs=64)
    engines = {name: FakeEngine("m", model, name=name) for name in ("a", "b", "c")}
    listening = {name: await servers(engine) for name, engine in engines.items()}
    config = parse_config(
        {
            "models": [
                {
                    "name": "llama",
                    "profile": "round-robin",
                    "backends": [{"url": s.url, "model": "m", "name": n} for n, s in listening.items()],
                }
            ],
            "health": {"interval": 0.2, "timeout": 0.3, "panic_threshold": panic_threshold},
            "scrape": {"interval": 0.2},
            "access_log": {"enabled": False},
        }
    )
    run = Run(GatewayApp(config), engines)
    app = run.app
    if disturb is not None:
        disturb(run)
    await app.startup()
    stop_at = time.monotonic() + 2.5

    async def client() -> None:
        while time.monotonic() < stop_at:
            reply = await call(app, "/v1/chat/completions", chat())
            run.results.append((time.monotonic(), reply.status, reply.headers.get(b"x-engine", b"")))

    async def killer() -> None:
        await asyncio.sleep(0.8)
        run.killed_at = time.monotonic()
        await listening["b"].stop()

    try:
        await asyncio.gather(*(client() for _ in range(16)), killer())
    finally:
        await app.shutdown()
    return run


def disturbing(run: Run, disturb: Callable[[Replica], None], undo: Callable[[Replica], None]) -> None:
    """Wraps the health probe so that `disturb` acts on the first round after 0.3 s past the kill
    (the probes of one round start together, so all of them see it) and records that round's results."""
    probe = run.app.health.probe

    async def disturbed_probe(replica: Replica) -> bool:
        disturbed = time.monotonic() > run.killed_at + 0.3 and not run.disturbed_round
        if disturbed:
            disturb(replica)
        try:
            ok = await probe(replica)
        finally:
            if disturbed:
                undo(replica)
        if disturbed:
            run.disturbed_round[replica.name] = ok
        return ok

    run.app.health.probe = disturbed_probe  # type: ignore[method-assign]


def stall_the_loop(run: Run) -> None:
    """Blocks the loop once every probe of one round was sent, so each one times out late."""
    last = run.app.table.replicas()[-1]

    def stall(replica: Replica) -> None:
        if replica is last:
            asyncio.get_running_loop().call_soon(time.sleep, STALL)

    disturbing(run, stall, lambda replica: None)


def slow_health_answers(run: Run) -> None:
    """Every engine takes longer than the probe timeout to answer /health for one round."""

    def slow(replica: Replica) -> None:
        run.engines[replica.name].health_delay = 1.0

    def fast(replica: Replica) -> None:
        run.engines[replica.name].health_delay = 0.0

    disturbing(run, slow, fast)


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


async def test_probes_timed_out_by_a_stalled_loop_are_sent_again_and_the_live_replicas_pass(
    servers: Any,
) -> None:
    run = await failover_run(servers, stall_the_loop, panic_threshold=0)  # no panic routing to fall back on
    assert run.disturbed_round == {"a": True, "b": False, "c": True}
    assert (run.app.metrics.registry.get_sample_value("infleet_gateway_health_checks_late_total") or 0) >= 2
    assert_failover_invisible(run)


async def test_live_engines_too_slow_for_their_probes_keep_serving_in_panic(servers: Any) -> None:
    run = await failover_run(servers, slow_health_answers)
    # Every replica, live ones included, failed its probe in that round and was marked unhealthy.
    assert run.disturbed_round == {"a": False, "b": False, "c": False}
    assert_failover_invisible(run)
