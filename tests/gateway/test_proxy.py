"""Behaviour of the request path over in-process engines: model mapping, retries, fallbacks, streaming,
keep-alives, limits, shedding and errors."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from tests.gateway.conftest import FakeEngine, build_gateway, call, chat, mid_window_limiter

A, B, C = "http://a:8000", "http://b:8000", "http://c:8000"


def one_model(*urls: str, **extra: Any) -> dict[str, Any]:
    model = {"name": "llama", "aliases": ["llama3"], "backends": [{"url": u, "model": "m"} for u in urls]}
    model.update(extra)
    return {"models": [model], "health": {"enabled": False}, "scrape": {"enabled": False}}


async def test_rewrites_only_the_model_and_keeps_other_bytes() -> None:
    engine = FakeEngine("m")
    app, _ = build_gateway(one_model(A), {A: engine})
    raw = b'{"model": "llama3", "messages": [{"role": "user", "content": "x"}], "temperature": 0.5}'
    reply = await call(app, "/v1/chat/completions", raw)
    assert reply.status == 200
    assert engine.last_body == raw.replace(b'"llama3"', b'"m"')
    assert float(reply.headers[b"x-infleet-overhead-ms"]) >= 0
    assert reply.headers[b"x-request-id"]


async def test_nested_model_key_falls_back_to_reserialization() -> None:
    engine = FakeEngine("m")
    app, _ = build_gateway(one_model(A), {A: engine})
    body = chat(tools=[{"type": "function", "function": {"name": "f", "parameters": {"model": "llama"}}}])
    reply = await call(app, "/v1/chat/completions", body)
    assert reply.status == 200
    sent = orjson.loads(engine.last_body)
    assert sent["model"] == "m"
    assert sent["tools"][0]["function"]["parameters"] == {"model": "llama"}


async def test_retries_5xx_on_another_replica() -> None:
    bad, good = FakeEngine("m", fail_status=503), FakeEngine("m", name="good")
    config = one_model(A, B, profile="round-robin")
    app, _ = build_gateway(config, {A: bad, B: good})
    for _ in range(4):
        reply = await call(app, "/v1/chat/completions", chat())
        assert reply.status == 200
        assert reply.headers[b"x-engine"] == b"good"
    assert bad.requests >= 1


async def test_connect_error_ejects_the_replica_at_once() -> None:
    good = FakeEngine("m", name="good")
    app, _ = build_gateway(one_model(A, B, profile="round-robin"), {B: good})  # A refuses connections
    statuses = [(await call(app, "/v1/chat/completions", chat())).status for _ in range(6)]
    assert statuses == [200] * 6
    dead = next(r for r in app.table.replicas() if r.origin.host == "a")
    assert dead.cooldown_until > 0


async def test_relays_the_last_upstream_error_when_all_attempts_fail() -> None:
    app, _ = build_gateway(
        one_model(A, B), {A: FakeEngine("m", fail_status=500), B: FakeEngine("m", fail_status=500)}
    )
    reply = await call(app, "/v1/chat/completions", chat())
    assert reply.status == 500
    assert reply.json()["error"]["message"] == "injected failure"


async def test_client_errors_are_not_retried() -> None:
    a, b = FakeEngine("m", fail_status=400), FakeEngine("m")
    app, _ = build_gateway(one_model(A, B, profile="round-robin"), {A: a, B: b})
    replies = [await call(app, "/v1/chat/completions", chat()) for _ in range(2)]
    assert sorted(r.status for r in replies) == [200, 400]
    assert a.requests == 1
    assert b.requests == 1


async def test_falls_back_to_another_model_then_external_provider() -> None:
    ext = FakeEngine("gpt-x", name="external")
    config = {
        "models": [
            {"name": "llama", "backends": [{"url": A}], "fallbacks": ["big", "ext"]},
            {"name": "big", "backends": [{"url": B}]},
            {
                "name": "ext",
                "backends": [
                    {
                        "url": "https://api.example.com/v1",
                        "model": "gpt-x",
                        "external": True,
                        "api_key": "sk-test",
                    }
                ],
            },
        ],
        "health": {"enabled": False},
        "scrape": {"enabled": False},
    }
    app, _ = build_gateway(
        config, {A: FakeEngine("llama", fail_status=503), "https://api.example.com/v1": ext}
    )
    reply = await call(app, "/v1/chat/completions", chat())
    assert reply.status == 200
    assert reply.headers[b"x-engine"] == b"external"
    assert orjson.loads(ext.last_body)["model"] == "gpt-x"
    text = app.metrics.render().decode()
    assert 'infleet_gateway_fallbacks_total{model="llama",to="ext"} 1.0' in text


async def test_streams_chunks_and_counts_usage() -> None:
    app, _log = build_gateway(one_model(A), {A: FakeEngine("m")})
    reply = await call(app, "/v1/chat/completions", chat(stream=True, stream_options={"include_usage": True}))
    assert reply.status == 200
    assert reply.headers[b"content-type"] == b"text/event-stream"
    events = [e for e in reply.body.split(b"\n\n") if e]
    assert events[-1] == b"data: [DONE]"
    assert len(reply.chunks) >= len(events) - 1  # relayed as they came, not as one buffer
    text = app.metrics.render().decode()
    assert 'infleet_gateway_tokens_total{kind="completion",model="llama"} 5.0' in text


class SlowFirstToken:
    """Sends headers at once, then stays silent before the first event: a long prefill."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        await asyncio.sleep(self.delay)
        await send({"type": "http.response.body", "body": b'data: {"x":1}\n\n', "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})


async def test_keepalive_comments_while_the_upstream_is_silent() -> None:
    config = one_model(A)
    config["keepalive_interval"] = 0.05
    # 0.8 s of silence is 16 keep-alive intervals: a scheduling stall on a loaded runner still leaves >= 3.
    app, _ = build_gateway(config, {A: SlowFirstToken(0.8)})
    reply = await call(app, "/v1/chat/completions", chat(stream=True))
    assert reply.status == 200
    assert reply.chunks[0] == b": keep-alive\n\n"
    assert reply.chunks.count(b": keep-alive\n\n") >= 3
    assert reply.body.endswith(b"data: [DONE]\n\n")


class FailsMidStream:
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        await send({"type": "http.response.body", "body": b'data: {"x":1}\n\n', "more_body": True})
        raise RuntimeError("engine crashed")


async def test_no_retry_after_bytes_were_sent() -> None:
    other = FakeEngine("m")
    app, _ = build_gateway(one_model(A, B, profile="round-robin"), {A: FailsMidStream(), B: other})
    replies = [await call(app, "/v1/chat/completions", chat(stream=True)) for _ in range(2)]
    broken = next(r for r in replies if b"x-engine" not in r.headers)
    assert broken.status == 200
    assert b'"error"' in broken.body
    assert broken.body.endswith(b"data: [DONE]\n\n")
    assert other.requests == 1  # the broken stream was not replayed elsewhere


async def test_unknown_model_bad_body_and_method() -> None:
    app, _ = build_gateway(one_model(A), {A: FakeEngine("m")})
    missing = await call(app, "/v1/chat/completions", chat(model="nope"))
    assert missing.status == 404
    assert "llama" in missing.json()["error"]["message"]
    bad = await call(app, "/v1/chat/completions", b"{not json")
    assert bad.status == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"
    no_model = await call(app, "/v1/chat/completions", {"messages": []})
    assert no_model.status == 400
    assert "model" in no_model.json()["error"]["message"]
    wrong = await call(app, "/v1/chat/completions", method="GET")
    assert wrong.status == 405


async def test_keys_and_allowed_models() -> None:
    import hashlib

    config = one_model(A)
    config["keys"] = [
        {"name": "team-a", "hash": "sha256:" + hashlib.sha256(b"sk-a").hexdigest(), "models": ["other"]}
    ]
    config["master_key"] = "sk-master"
    app, _ = build_gateway(config, {A: FakeEngine("m")})
    assert (await call(app, "/v1/chat/completions", chat())).status == 401
    bad_key = await call(app, "/v1/chat/completions", chat(), headers={"authorization": "Bearer sk-wrong"})
    assert bad_key.status == 401
    denied = await call(app, "/v1/chat/completions", chat(), headers={"authorization": "Bearer sk-a"})
    assert denied.status == 403
    admin = await call(app, "/v1/chat/completions", chat(), headers={"authorization": "Bearer sk-master"})
    assert admin.status == 200
    models = await call(app, "/v1/models", method="GET", headers={"authorization": "Bearer sk-a"})
    assert models.json()["data"] == []


async def test_rpm_limit_admits_exactly_the_limit_under_concurrency() -> None:
    import hashlib

    config = one_model(A)
    config["keys"] = [{"name": "k", "hash": "sha256:" + hashlib.sha256(b"sk-k").hexdigest(), "rpm": 50}]
    app, _ = build_gateway(config, {A: FakeEngine("m")}, mid_window_limiter())
    replies = await asyncio.gather(
        *(
            call(app, "/v1/chat/completions", chat(), headers={"authorization": "Bearer sk-k"})
            for _ in range(200)
        )
    )
    statuses = [r.status for r in replies]
    assert statuses.count(200) == 50
    assert statuses.count(429) == 150
    limited = next(r for r in replies if r.status == 429)
    assert int(limited.headers[b"retry-after"]) >= 1
    assert limited.json()["error"]["type"] == "rate_limit_error"


async def test_tpm_is_charged_with_real_usage() -> None:
    import hashlib

    config = one_model(A)
    config["keys"] = [{"name": "k", "hash": "sha256:" + hashlib.sha256(b"sk-k").hexdigest(), "tpm": 20}]
    app, _ = build_gateway(config, {A: FakeEngine("m")}, mid_window_limiter())
    auth = {"authorization": "Bearer sk-k"}
    first = await call(app, "/v1/chat/completions", chat(), headers=auth)  # 8 prompt + 5 completion tokens
    second = await call(app, "/v1/chat/completions", chat(), headers=auth)  # admitted: 13 < 20
    third = await call(app, "/v1/chat/completions", chat(), headers=auth)  # 26 >= 20: refused
    assert [first.status, second.status, third.status] == [200, 200, 429]


class Gate:
    """An engine that holds every request until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.inner = FakeEngine("m")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.release.wait()
        await self.inner(scope, receive, send)


async def test_saturation_sheds_sheddable_and_queues_critical() -> None:
    gate = Gate()
    config = {
        "models": [{"name": "llama", "backends": [{"url": A, "model": "m", "max_concurrency": 1}]}],
        "health": {"enabled": False},
        "scrape": {"enabled": False},
    }
    app, _ = build_gateway(config, {A: gate})
    first = asyncio.create_task(call(app, "/v1/chat/completions", chat()))
    await asyncio.sleep(0.05)
    shed = await call(app, "/v1/chat/completions", chat(), headers={"x-infleet-priority": "sheddable"})
    assert shed.status == 429
    critical = asyncio.create_task(
        call(app, "/v1/chat/completions", chat(), headers={"x-infleet-priority": "critical"})
    )
    await asyncio.sleep(0.05)
    assert not critical.done()  # waiting in the admission queue, not refused
    gate.release.set()
    assert (await first).status == 200
    assert (await critical).status == 200


async def test_access_log_has_one_json_line_per_request() -> None:
    app, log = build_gateway(one_model(A), {A: FakeEngine("m")})
    await call(app, "/v1/chat/completions", chat(), headers={"x-request-id": "req-1"})
    assert app.proxy.access_log is not None
    app.proxy.access_log.flush()
    record = orjson.loads(log.getvalue().splitlines()[0])
    assert record["request_id"] == "req-1"
    assert record["status"] == 200
    assert record["model"] == "llama"
    assert record["prompt_tokens"] == 8


async def test_health_endpoints_and_metrics() -> None:
    config = one_model(A)
    config["health"]["panic_threshold"] = 0  # an unhealthy replica gets no traffic (see test_panic_routing)
    app, _ = build_gateway(config, {A: FakeEngine("m")})
    assert (await call(app, "/health/liveness", method="GET")).status == 200
    assert (await call(app, "/health/readiness", method="GET")).status == 200
    for replica in app.table.replicas():
        replica.healthy = False
    assert (await call(app, "/health/readiness", method="GET")).status == 503
    unavailable = await call(app, "/v1/chat/completions", chat())
    assert unavailable.status == 503
    metrics = await call(app, "/metrics", method="GET")
    assert b"infleet_gateway_rejections_total" in metrics.body


class FakeSpan:
    def __init__(self, name: str, attributes: dict[str, Any]) -> None:
        self.name = name
        self.attributes = dict(attributes)
        self.ended = False

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value

    def end(self) -> None:
        self.ended = True


class FakeTracer:
    def __init__(self) -> None:
        self.spans: list[FakeSpan] = []

    def start_span(self, name: str, attributes: dict[str, Any]) -> FakeSpan:
        self.spans.append(FakeSpan(name, attributes))
        return self.spans[-1]


async def test_one_span_per_request_when_tracing_is_on() -> None:
    from infleet.gateway.tracing import Tracer

    app, _ = build_gateway(one_model(A), {A: FakeEngine("m")})
    tracer = FakeTracer()
    app.proxy.tracer = Tracer(tracer)
    await call(app, "/v1/chat/completions", chat())
    (span,) = tracer.spans
    assert span.ended
    assert span.attributes["gen_ai.request.model"] == "llama"
    assert span.attributes["http.status_code"] == 200
