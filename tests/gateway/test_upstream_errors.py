"""Upstream failures map to client statuses by their type, never by their message text: timeouts answer
504, every other broken exchange 502, and a connect failure ejects the replica at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from infleet.gateway.app import GatewayApp
from infleet.gateway.config import parse_config
from infleet.gateway.http_pool import HttpPool
from infleet.gateway.transport import (
    Body,
    Headers,
    Origin,
    UpstreamConnectError,
    UpstreamConnectTimeoutError,
    UpstreamError,
    UpstreamResponse,
    UpstreamTimeoutError,
)
from tests.gateway.conftest import call, chat, free_port

A = "http://a:8000"


class FailingTransport:
    """Raises one given error for every request."""

    def __init__(self, error: UpstreamError) -> None:
        self.error = error

    async def send(
        self,
        origin: Origin,
        method: bytes,
        path: bytes,
        headers: Headers,
        body: Body,
        connect_deadline: float,
        headers_deadline: float,
    ) -> UpstreamResponse:
        raise self.error

    async def close(self) -> None:
        return None


def gateway(error: UpstreamError, debug: bool = False) -> GatewayApp:
    config = {
        "models": [{"name": "llama", "backends": [{"url": A, "model": "m"}]}],
        "retries": {"attempts": 1},
        "health": {"enabled": False},
        "scrape": {"enabled": False},
        "access_log": {"enabled": False},
        "debug": debug,
    }
    return GatewayApp(parse_config(config), transport=FailingTransport(error), background=False)


@pytest.mark.parametrize(
    ("error", "status", "told"),
    [
        (UpstreamTimeoutError("no answer"), 504, "timed out"),
        (UpstreamConnectTimeoutError("no handshake"), 504, "timed out"),
        (
            UpstreamConnectError("cannot connect to http://10.0.0.7:8000: refused"),
            502,
            "could not be reached",
        ),
        # The text alone does not make a timeout.
        (UpstreamError("upstream timed out before the deadline"), 502, "failed before it answered"),
    ],
)
async def test_status_follows_the_error_type(error: UpstreamError, status: int, told: str) -> None:
    app = gateway(error)
    reply = await call(app, "/v1/chat/completions", chat())
    assert reply.status == status
    message = reply.json()["error"]["message"]
    assert told in message
    assert str(error) not in message, "the upstream's error text is internal"
    assert "10.0.0.7" not in reply.body.decode()


async def test_debug_mode_tells_the_upstream_address_and_error() -> None:
    error = UpstreamConnectError("cannot connect to http://10.0.0.7:8000: refused")
    reply = await call(gateway(error, debug=True), "/v1/chat/completions", chat())
    assert reply.status == 502
    assert str(error) in reply.json()["error"]["message"]


async def test_a_connect_timeout_ejects_the_replica_at_once() -> None:
    app = gateway(UpstreamConnectTimeoutError("no handshake"))
    await call(app, "/v1/chat/completions", chat())
    (replica,) = app.table.replicas()
    assert replica.cooldown_until > 0


async def test_the_pool_reports_a_connect_deadline_as_a_connect_timeout() -> None:
    pool = HttpPool()
    past = asyncio.get_running_loop().time() - 1
    with pytest.raises(UpstreamConnectTimeoutError) as caught:
        await pool.send(Origin.parse(f"http://127.0.0.1:{free_port()}"), b"GET", b"/", [], (), past, past)
    error: Any = caught.value
    assert isinstance(error, UpstreamConnectError)
    assert isinstance(error, UpstreamTimeoutError)
    await pool.close()
