"""Limits shared through a real Redis: two gateways (two limiters) together admit exactly the limit."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from infleet.gateway.limits import LimitPlan
from infleet.gateway.redis_limits import RedisLimiter
from tests.gateway.conftest import MID_WINDOW_WALL, free_port

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server missing: run tools/install_system_packages.sh"
)


@pytest.fixture
def redis_url() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import socket

        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def _mid_window_limiter(redis_url: str) -> RedisLimiter:
    """A Redis limiter whose wall clock stands still in the middle of a window: on the real clock a minute
    boundary during a burst would start a fresh count."""
    return RedisLimiter(redis_url, lambda: MID_WINDOW_WALL)


@pytest.fixture
async def limiters(redis_url: str) -> AsyncIterator[tuple[RedisLimiter, RedisLimiter]]:
    a, b = _mid_window_limiter(redis_url), _mid_window_limiter(redis_url)
    yield a, b
    await a.close()
    await b.close()


async def test_two_gateways_share_one_rpm_limit(limiters: tuple[RedisLimiter, RedisLimiter]) -> None:
    plan = LimitPlan(rpm=(("rpm:key:team", 50),))
    results = await asyncio.gather(*(limiters[i % 2].acquire(plan) for i in range(200)))
    admitted = [r for r in results if r is None]
    assert len(admitted) == 50
    denial = next(r for r in results if r is not None)
    assert denial.counter == "rpm:key:team"
    assert 1 <= denial.retry_after <= 60


async def test_concurrency_slots_are_released(limiters: tuple[RedisLimiter, RedisLimiter]) -> None:
    a, b = limiters
    plan = LimitPlan(parallel=(("par:key:team", 2),))
    assert await a.acquire(plan) is None
    assert await b.acquire(plan) is None
    assert await a.acquire(plan) is not None
    await b.release(plan)
    assert await a.acquire(plan) is None


async def test_tokens_charged_by_one_gateway_limit_the_other(
    limiters: tuple[RedisLimiter, RedisLimiter],
) -> None:
    a, b = limiters
    plan = LimitPlan(tpm=(("tpm:key:team", 100),))
    assert await a.acquire(plan) is None
    await a.charge_tokens(plan, 120)
    denial = await b.acquire(plan)
    assert denial is not None
    assert "tokens per minute" in denial.message


async def test_two_gateway_apps_admit_exactly_fifty_of_two_hundred(redis_url: str) -> None:
    import hashlib

    from infleet.gateway.app import GatewayApp
    from infleet.gateway.asgi_transport import AsgiTransport
    from infleet.gateway.config import parse_config
    from tests.gateway.conftest import FakeEngine, call, chat

    config = {
        "models": [{"name": "llama", "backends": [{"url": "http://a:1", "model": "m"}]}],
        "keys": [{"name": "k", "hash": "sha256:" + hashlib.sha256(b"sk-k").hexdigest(), "rpm": 50}],
        "access_log": {"enabled": False},
    }
    engine = FakeEngine("m")
    apps = [
        GatewayApp(
            parse_config(config),
            transport=AsgiTransport({"http://a:1": engine}),
            limiter=_mid_window_limiter(redis_url),
            background=False,
        )
        for _ in range(2)
    ]
    auth = {"authorization": "Bearer sk-k"}
    try:
        replies = await asyncio.gather(
            *(call(apps[i % 2], "/v1/chat/completions", chat(), headers=auth) for i in range(200))
        )
    finally:
        for app in apps:
            await app.limiter.close()
    assert sum(r.status == 200 for r in replies) == 50
    assert engine.requests == 50
