"""Scale from zero in the gateway: requests for a model whose ModelDeployment has no ready replica wait in
a bounded queue while one wake per model is sent; a routing table with a replica releases them (streams
too, with no byte sent before); a full queue and a timeout are 503s with Retry-After; a client that leaves
is let go. Driven in-process on a manual clock, with a fake waker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from infleet.api.labels import WAKE_ANNOTATION
from infleet.gateway.app import GatewayApp
from infleet.gateway.asgi_transport import AsgiTransport
from infleet.gateway.config import BackendConfig, ModelConfig, WakeTarget, parse_config
from infleet.gateway.waker import AnnotationWaker
from infleet.kube.clock import ManualClock
from tests.gateway.conftest import FakeEngine, Reply, call, chat

ENGINE = "http://10.0.0.1:8000"
TARGET = WakeTarget(namespace="llm", name="llama")
ASLEEP = ModelConfig(name="llama", wake=[TARGET])
AWAKE = ModelConfig(name="llama", backends=[BackendConfig(url=ENGINE, name="member/llama-0", model="m")])


class FakeWaker:
    def __init__(self, fail: bool = False) -> None:
        self.wakes: list[tuple[str, list[WakeTarget]]] = []
        self.fail = fail

    async def wake(self, model: str, targets: Sequence[WakeTarget]) -> None:
        self.wakes.append((model, list(targets)))
        if self.fail:
            raise RuntimeError("the API is down")


def gateway(
    waker: FakeWaker, clock: ManualClock, engine: FakeEngine | None = None, **scale_from_zero: Any
) -> GatewayApp:
    config = parse_config(
        {
            "access_log": {"enabled": False},
            "health": {"enabled": False},
            "scrape": {"enabled": False},
            "scale_from_zero": {"queue_size": 8, "timeout": 30, "rewake_after": 10, **scale_from_zero},
        },
        discovery=True,
    )
    app = GatewayApp(
        config,
        transport=AsgiTransport({ENGINE: engine or FakeEngine("m")}),
        background=False,
        clock=clock,
        waker=waker,
    )
    app.apply_discovered([ASLEEP])  # what discovery publishes for a deployment scaled to zero
    return app


async def until(predicate: Any, limit: float = 2.0) -> None:
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110 (the state is the app's, with no event to wait on)
            await asyncio.sleep(0.001)


def send(app: GatewayApp, body: Any = None) -> asyncio.Task[Reply]:
    return asyncio.ensure_future(call(app, "/v1/chat/completions", body or chat("llama")))


async def test_held_requests_share_one_wake_and_are_answered_when_a_replica_arrives() -> None:
    waker, clock, engine = FakeWaker(), ManualClock(), FakeEngine("m")
    app = gateway(waker, clock, engine)
    replies = [send(app) for _ in range(5)]
    await until(lambda: app.wakes.held("llama") == 5)
    assert waker.wakes == [("llama", [TARGET])]  # one wake for five requests
    assert not any(r.done() for r in replies)
    assert engine.requests == 0
    await clock.advance(3)
    app.apply_discovered([AWAKE])  # discovery's new table, with the woken replica
    answered = await asyncio.gather(*replies)
    assert [r.status for r in answered] == [200] * 5
    assert engine.requests == 5
    assert app.wakes.held("llama") == 0
    metrics = (await call(app, "/metrics", method="GET")).body.decode()
    assert 'infleet_gateway_wakes_total{model="llama"} 1.0' in metrics
    assert 'infleet_gateway_held_requests{model="llama"} 0.0' in metrics
    assert 'infleet_gateway_wake_duration_seconds_sum{model="llama"} 3.0' in metrics
    # Awake: the next request goes straight through, with no wake.
    assert (await call(app, "/v1/chat/completions", chat("llama"))).status == 200
    assert len(waker.wakes) == 1


async def test_a_gateway_whose_only_model_sleeps_is_ready_to_hold_its_requests() -> None:
    app = gateway(FakeWaker(), ManualClock())
    ready = await call(app, "/health/readiness", method="GET")
    assert ready.status == 200
    assert ready.json()["models_asleep"] == 1
    app.apply_discovered([ModelConfig(name="llama")])  # nothing to wake, nothing to route to
    assert (await call(app, "/health/readiness", method="GET")).status == 503


async def test_a_stream_is_held_with_no_byte_sent_and_then_relayed() -> None:
    app = gateway(FakeWaker(), ManualClock())
    reply = send(app, chat("llama", stream=True))
    await until(lambda: app.wakes.held("llama") == 1)
    await asyncio.sleep(0.01)
    assert not reply.done()
    app.apply_discovered([AWAKE])
    streamed = await reply
    assert streamed.status == 200
    assert streamed.body.rstrip().endswith(b"data: [DONE]")


async def test_a_full_queue_is_a_503_with_retry_after_and_the_held_ones_still_wait() -> None:
    app = gateway(FakeWaker(), ManualClock(), queue_size=2, retry_after=7)
    held = [send(app), send(app)]
    await until(lambda: app.wakes.held("llama") == 2)
    refused = await call(app, "/v1/chat/completions", chat("llama"))
    assert refused.status == 503
    assert refused.headers[b"retry-after"] == b"7"
    assert refused.json()["error"]["code"] == "wake_queue_full"
    assert "scale_from_zero.queue_size" in refused.json()["error"]["message"]
    app.apply_discovered([AWAKE])
    assert [r.status for r in await asyncio.gather(*held)] == [200, 200]


async def test_a_wake_that_times_out_answers_every_held_request_and_is_sent_again_when_old() -> None:
    waker, clock = FakeWaker(), ManualClock()
    app = gateway(waker, clock, timeout=30, rewake_after=10)
    first = [send(app) for _ in range(3)]
    await until(lambda: app.wakes.held("llama") == 3)
    await clock.advance(12)
    later = send(app)  # the wake is 12 s old with nothing to show: it is sent again
    await until(lambda: app.wakes.held("llama") == 4)
    assert len(waker.wakes) == 2
    await clock.advance(18)  # 30 s for the first three
    for reply in await asyncio.gather(*first):
        assert reply.status == 503
        assert reply.headers[b"retry-after"] == b"5"
        assert reply.json()["error"]["code"] == "wake_timeout"
    assert not later.done()  # its own 30 s are not over
    await clock.advance(12)
    assert (await later).status == 503
    assert app.wakes.held("llama") == 0


async def test_a_client_that_leaves_while_held_is_let_go() -> None:
    app = gateway(FakeWaker(), ManualClock())
    left = asyncio.Event()
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": b'{"model": "llama", "prompt": "hi"}'}
        await left.wait()
        return {"type": "http.disconnect"}

    async def record(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/completions", "headers": []}
    request = asyncio.ensure_future(app(scope, receive, record))
    await until(lambda: app.wakes.held("llama") == 1)
    left.set()
    await asyncio.wait_for(request, 2)
    assert sent == []
    assert app.wakes.held("llama") == 0
    metrics = (await call(app, "/metrics", method="GET")).body.decode()
    assert 'infleet_gateway_rejections_total{reason="client_left_while_waking"} 1.0' in metrics


async def test_a_failed_wake_keeps_requests_waiting_and_a_model_with_nothing_to_wake_is_not_held() -> None:
    waker = FakeWaker(fail=True)
    app = gateway(waker, ManualClock())
    reply = send(app)
    await until(lambda: app.wakes.held("llama") == 1 and waker.wakes)
    await asyncio.sleep(0.01)
    assert not reply.done()
    # Its only member turned unhealthy: no replica, nothing to wake: the waiting request is let through
    # to the usual 503, and so are new ones, at once.
    app.apply_discovered([ModelConfig(name="llama")])
    for answered in (await reply, await call(app, "/v1/chat/completions", chat("llama"))):
        assert answered.status == 503
        assert answered.json()["error"]["code"] == "no_replica"


async def test_a_model_that_leaves_the_fleet_answers_its_held_requests() -> None:
    app = gateway(FakeWaker(), ManualClock())
    reply = send(app)
    await until(lambda: app.wakes.held("llama") == 1)
    app.apply_discovered([])
    answered = await reply
    assert answered.status == 503
    assert "no longer served" in answered.json()["error"]["message"]


class FakeClient:
    def __init__(self, name: str, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.patches: list[tuple[str, str, dict[str, Any]]] = []

    async def patch(self, kind: Any, name: str, patch: Any, namespace: str | None = None) -> dict[str, Any]:
        if self.fail:
            raise OSError("connection refused")
        self.patches.append((str(namespace), name, patch))
        return {}


@pytest.mark.parametrize(
    ("clusters", "reachable", "patched_members", "hub_patched"),
    [
        (["eu", "us"], {"eu", "us"}, ["eu", "us"], False),  # every member copy: no hub write
        (["eu", "us"], {"eu"}, ["eu"], True),  # us is out of reach: the hub's copy reaches it
        (["eu"], {"eu-broken"}, [], True),  # the member's API fails: the hub's copy
        ([], set(), [], True),  # a member's own copy, or a hub copy not placed yet
    ],
)
async def test_the_annotation_waker_patches_member_copies_it_can_reach_else_the_hub(
    clusters: list[str], reachable: set[str], patched_members: list[str], hub_patched: bool
) -> None:
    hub = FakeClient("hub")
    members = {"eu": FakeClient("eu"), "us": FakeClient("us")}
    if "eu-broken" in reachable:
        members["eu"] = FakeClient("eu", fail=True)
        reachable = {"eu"}
    clock = ManualClock(wall_start=1_750_000_000.0)
    waker = AnnotationWaker(hub, lambda c: members[c] if c in reachable else None, clock)  # type: ignore[arg-type,return-value]
    await waker.wake("llama", [WakeTarget(namespace="llm", name="llama", clusters=clusters)])
    annotation = {"metadata": {"annotations": {WAKE_ANNOTATION: "2025-06-15T15:06:40Z"}}}
    assert [c for c, client in members.items() if client.patches] == patched_members
    for cluster in patched_members:
        assert members[cluster].patches == [("llm", "llama", annotation)]
    assert hub.patches == ([("llm", "llama", annotation)] if hub_patched else [])
