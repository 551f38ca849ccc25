"""Panic routing: below `health.panic_threshold` percent of healthy replicas a model is routed across all
its replicas, health ignored, cooldowns kept; at or above it, replicas failing checks get no traffic."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import orjson
import pytest

from infleet.gateway.app import GatewayApp
from infleet.gateway.config import ConfigError, parse_config
from infleet.gateway.panic import in_panic
from infleet.gateway.replica import Replica
from infleet.gateway.transport import Origin
from tests.gateway.conftest import FakeEngine, build_gateway, call, chat

URLS = [f"http://r{i}:8000" for i in range(4)]


def model(urls: list[str], **health: Any) -> dict[str, Any]:
    return {
        "models": [
            {
                "name": "llama",
                "profile": "round-robin",  # spreads requests over every candidate, so exclusion shows
                "backends": [{"url": u, "model": "m", "name": u[7:9]} for u in urls],
            }
        ],
        "health": {"enabled": False, **health},
        "scrape": {"enabled": False},
    }


def live(urls: list[str]) -> dict[str, Any]:
    return {u: FakeEngine("m", name=u[7:9]) for u in urls}


async def fail_checks(app: GatewayApp, names: set[str]) -> None:
    """Runs one health check of every replica, failing those named: the path health takes in service."""

    async def probe(replica: Replica) -> bool:
        return replica.name not in names

    app.health.probe = probe  # type: ignore[method-assign]
    for replica in app.table.replicas():
        await app.health.check(replica)


async def served_by(app: GatewayApp, requests: int) -> Counter[str]:
    backends: Counter[str] = Counter()
    for _ in range(requests):
        reply = await call(app, "/v1/chat/completions", chat())
        assert reply.status == 200, reply.body
        backends[reply.headers[b"x-infleet-backend"].decode()] += 1
    return backends


def panic_gauge(metrics: bytes) -> float:
    for line in metrics.decode().splitlines():
        if line.startswith('infleet_gateway_panic{model="llama"}'):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no infleet_gateway_panic series for llama")


async def test_with_every_replica_failing_checks_requests_still_succeed_on_the_live_ones() -> None:
    urls = URLS[:3]
    app, _ = build_gateway(model(urls), live([urls[0], urls[2]]))  # r1 refuses connections
    await fail_checks(app, {"r0", "r1", "r2"})
    assert not any(r.healthy for r in app.table.replicas())
    backends = await served_by(app, 30)
    assert set(backends) == {"r0", "r2"}
    dead = next(r for r in app.table.replicas() if r.name == "r1")
    assert dead.unreachable  # the refused connection cooled it down: retries moved past it


async def test_below_the_threshold_replicas_failing_checks_take_traffic_too() -> None:
    app, _ = build_gateway(model(URLS), live(URLS))
    await fail_checks(app, {"r1", "r2", "r3"})  # 25% healthy < 50%
    assert set(await served_by(app, 40)) == {"r0", "r1", "r2", "r3"}


async def test_at_the_threshold_replicas_failing_checks_get_no_traffic() -> None:
    app, _ = build_gateway(model(URLS), live(URLS))
    await fail_checks(app, {"r2", "r3"})  # 50% healthy: not below 50%
    assert set(await served_by(app, 40)) == {"r0", "r1"}
    # A higher threshold puts the same fleet in panic.
    app, _ = build_gateway(model(URLS, panic_threshold=75), live(URLS))
    await fail_checks(app, {"r2", "r3"})
    assert set(await served_by(app, 40)) == {"r0", "r1", "r2", "r3"}


async def test_threshold_zero_answers_503_when_no_replica_passes_checks() -> None:
    urls = URLS[:2]
    app, _ = build_gateway(model(urls, panic_threshold=0), live(urls))
    await fail_checks(app, {"r0", "r1"})
    reply = await call(app, "/v1/chat/completions", chat())
    assert reply.status == 503
    assert reply.headers[b"retry-after"] == b"1"
    assert reply.json()["error"]["code"] == "no_replica"


async def test_cooldowns_still_hold_in_panic() -> None:
    urls = URLS[:3]
    app, _ = build_gateway(model(urls), live(urls))
    await fail_checks(app, {"r0", "r1", "r2"})
    cooling = next(r for r in app.table.replicas() if r.name == "r1")
    cooling.cooldown_until = app.clock.now() + 60  # ejected by outlier detection (5xx in a row, 429)
    assert set(await served_by(app, 30)) == {"r0", "r2"}


def logged(caplog: pytest.LogCaptureFixture, phrase: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if phrase in r.getMessage()]


async def test_panic_is_exported_and_logged_on_entry_and_exit(caplog: pytest.LogCaptureFixture) -> None:
    urls = URLS[:3]
    app, _ = build_gateway(model(urls), live(urls))
    routed = b'infleet_gateway_panic_routed_total{model="llama"} 5.0'
    assert panic_gauge(await scrape(app)) == 0
    caplog.set_level(logging.INFO, logger="infleet.gateway")
    await fail_checks(app, {"r0", "r1"})  # the gauge follows health, with no request
    assert logged(caplog, "enters panic") == [
        "model 'llama' enters panic: 1 of 3 replicas pass health checks, below the panic threshold of "
        "50%; routing across all of them, health ignored"
    ]
    assert panic_gauge(await scrape(app)) == 1
    await served_by(app, 5)
    assert routed in await scrape(app)
    await fail_checks(app, {"r0"})
    assert logged(caplog, "leaves panic") == [
        "model 'llama' leaves panic: 2 of 3 replicas pass health checks (panic threshold 50%); "
        "replicas failing them get no traffic again"
    ]
    assert panic_gauge(await scrape(app)) == 0
    await served_by(app, 5)
    assert routed in await scrape(app)  # out of panic, no request counts


async def scrape(app: GatewayApp) -> bytes:
    return (await call(app, "/metrics", method="GET")).body


async def test_a_gateway_serving_in_panic_stays_ready() -> None:
    # Readiness follows what the router does: pulling every gateway pod out of its Service because the
    # probes went wrong would be the outage panic routing avoids.
    urls = URLS[:2]
    app, _ = build_gateway(model(urls), live(urls))
    await fail_checks(app, {"r0", "r1"})
    assert (await call(app, "/v1/chat/completions", chat())).status == 200
    ready = await call(app, "/health/readiness", method="GET")
    assert ready.status == 200
    assert orjson.loads(ready.body)["models_in_panic"] == 1


async def test_without_panic_routing_failing_checks_make_the_gateway_unready() -> None:
    urls = URLS[:2]
    app, _ = build_gateway(model(urls, panic_threshold=0), live(urls))
    await fail_checks(app, {"r0", "r1"})
    assert (await call(app, "/health/readiness", method="GET")).status == 503


def replica(name: str, healthy: bool, external: bool = False) -> Replica:
    r = Replica(name, Origin.parse(f"http://{name}:8000"), "m", frozenset({"llama"}), external=external)
    r.healthy = healthy
    return r


@pytest.mark.parametrize(
    ("healthy", "total", "threshold", "panic"),
    [
        (0, 3, 50, True),
        (1, 3, 50, True),
        (2, 4, 50, False),  # exactly at the threshold: the checks are trusted
        (2, 4, 51, True),
        (3, 3, 100, False),
        (2, 3, 100, True),
        (0, 3, 0, False),  # 0 disables panic routing
    ],
)
def test_panic_is_a_healthy_share_strictly_below_the_threshold(
    healthy: int, total: int, threshold: float, panic: bool
) -> None:
    replicas = [replica(f"r{i}", i < healthy) for i in range(total)]
    assert in_panic(replicas, threshold) is panic


def test_a_model_with_no_replica_is_not_in_panic_and_external_ones_count_as_healthy() -> None:
    assert not in_panic([], 50)  # scaled to zero: the wake queue holds its requests
    # External providers are never probed: their flag stays healthy and counts toward the share.
    assert not in_panic([replica("local", False), replica("provider", True, external=True)], 50)


@pytest.mark.parametrize("value", [-1, 100.5, 150, "nan"])
def test_panic_threshold_must_be_a_percent(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"health\.panic_threshold: .*use 0 to 100"):
        parse_config({**model(URLS[:1]), "health": {"panic_threshold": value}})


def test_panic_threshold_defaults_to_50_like_envoy() -> None:
    assert parse_config(model(URLS[:1])).health.panic_threshold == 50
