"""The retry policy decides alone, over a fake attempt: each replica at most once, no more than the
configured attempts, then the fallback models in order, and retries only while the budget allows."""

from __future__ import annotations

import asyncio
from typing import Any

from infleet.gateway.app import GatewayApp
from infleet.gateway.asgi_transport import AsgiTransport
from infleet.gateway.auth import ANONYMOUS
from infleet.gateway.config import parse_config
from infleet.gateway.exchange import Exchange, Failure, Outcome
from infleet.gateway.replica import Replica
from infleet.gateway.request_body import parse_body
from infleet.gateway.transport import Body


def gateway(attempts: int = 3, budget_min_per_second: float = 10.0) -> GatewayApp:
    llama = {
        "name": "llama",
        "profile": "round-robin",
        "backends": [{"url": "http://a:1"}, {"url": "http://b:1"}],
        "fallbacks": ["big"],
    }
    retries = {"attempts": attempts, "budget_ratio": 0.0, "budget_min_per_second": budget_min_per_second}
    config = {
        "models": [llama, {"name": "big", "backends": [{"url": "http://c:1"}]}],
        "retries": retries,
        "health": {"enabled": False},
        "scrape": {"enabled": False},
        "access_log": {"enabled": False},
    }
    return GatewayApp(parse_config(config), transport=AsgiTransport({}), background=False)


def exchange(app: GatewayApp) -> Exchange:
    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("the policy never writes to the client")

    route = app.table.lookup("llama")
    assert route is not None
    return Exchange(
        request_id="r",
        request_id_header=(b"x-request-id", b"r"),
        principal=ANONYMOUS,
        priority="standard",
        region=None,
        path="/v1/chat/completions",
        body=parse_body(b'{"model": "llama", "messages": []}'),
        route=route,
        table=app.table,
        started=0.0,
        send=send,
        deadline=asyncio.get_running_loop().time() + 60,
    )


class FakeAttempt:
    """Fails on the hosts in `failing`, answers on every other; records the hosts tried."""

    def __init__(self, *failing: str) -> None:
        self.failing = set(failing)
        self.hosts: list[str] = []

    async def __call__(self, exchange: Exchange, replica: Replica, body: Body) -> Outcome | Failure:
        self.hosts.append(replica.origin.host)
        if replica.origin.host in self.failing:
            return Failure(503, f"{replica.origin.host} failed")
        return Outcome(200, replica.name, None, None, 0.0)


async def test_tries_each_replica_once_then_falls_back() -> None:
    app = gateway()
    attempt = FakeAttempt("a", "b")
    result = await app.proxy.retries.run(exchange(app), attempt)
    assert isinstance(result, Outcome)
    assert sorted(attempt.hosts[:2]) == ["a", "b"]
    assert attempt.hosts[2:] == ["c"]


async def test_stops_after_the_configured_attempts_with_the_last_failure() -> None:
    app = gateway(attempts=2)
    attempt = FakeAttempt("a", "b", "c")
    result = await app.proxy.retries.run(exchange(app), attempt)
    assert isinstance(result, Failure)
    assert len(attempt.hosts) == 2
    assert result.message == f"{attempt.hosts[-1]} failed"


async def test_an_empty_retry_budget_allows_only_first_tries() -> None:
    app = gateway(budget_min_per_second=0.0)
    policy = app.proxy.retries
    while policy.budget.try_withdraw():  # drain the bucket; nothing refills it
        pass
    attempt = FakeAttempt("a", "b", "c")
    result = await policy.run(exchange(app), attempt)
    assert isinstance(result, Failure)
    assert len(attempt.hosts) == 1
