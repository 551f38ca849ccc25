"""Prefix-cache feedback through the gateway: the cached prompt tokens an engine reports (in a JSON
answer's usage, or in a stream's include_usage chunk) correct the routing's prefix index, so affinity
to blocks an engine evicted goes away, and a reported hit keeps it."""

from __future__ import annotations

from typing import Any

import orjson

from infleet.gateway.app import GatewayApp
from infleet.gateway.config import parse_config
from infleet.gateway.request_body import parse_body
from infleet.sim.engine import EngineHost, EngineSpec
from tests.gateway.conftest import build_gateway, call, chat

A = "http://a:8000"
PROMPTS = {tag: f"{tag}: " + "the pager fired on a full disk; " * 64 for tag in ("p1", "p2", "p3")}


class CachingEngine:
    """A vLLM stand-in with a prefix cache of whole prompts it can be told to drop; it reports cached
    tokens as vLLM does under --enable-prompt-tokens-details (null details when nothing was cached)."""

    def __init__(self) -> None:
        self.cached: set[str] = set()
        self.requests = 0

    def evict_all(self) -> None:
        self.cached.clear()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = orjson.loads(body)
        self.requests += 1
        content = request["messages"][-1]["content"]
        prompt_tokens = len(content) // 4
        hit = content in self.cached
        self.cached.add(content)
        details = {"cached_tokens": (prompt_tokens - 1) // 16 * 16} if hit else None
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": 1, "total_tokens": prompt_tokens + 1}
        usage["prompt_tokens_details"] = details  # type: ignore[assignment]
        base = {"id": "x", "created": 0, "model": request["model"]}
        if request.get("stream"):
            chunks = [{**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}}]}]
            if (request.get("stream_options") or {}).get("include_usage"):
                chunks.append({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage})
            data = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
            headers = [(b"content-type", b"text/event-stream")]
        else:
            choice = {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
            data = orjson.dumps({**base, "object": "chat.completion", "choices": [choice], "usage": usage})
            headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data})


def config(*urls: str) -> dict[str, Any]:
    backends = [{"url": u, "model": "m", "name": u[7]} for u in urls]
    return {
        "models": [{"name": "llama", "backends": backends}],
        "health": {"enabled": False},
        "scrape": {"enabled": False},
    }


def request(tag: str, stream: bool = False) -> dict[str, Any]:
    extra = {"stream_options": {"include_usage": True}} if stream else {}
    return chat(content=PROMPTS[tag], stream=stream, **extra)


def blocks(tag: str) -> tuple[int, ...]:
    return parse_body(orjson.dumps(request(tag))).prefix("llama")


async def send(app: Any, tag: str, stream: bool = False) -> str:
    reply = await call(app, "/v1/chat/completions", request(tag, stream))
    assert reply.status == 200
    return reply.headers[b"x-infleet-backend"].decode()


async def test_a_reported_miss_drops_stale_affinity_and_a_hit_keeps_it() -> None:
    engine = CachingEngine()
    app, _ = build_gateway(config(A), {A: engine})
    index, full = app.prefix_index, len(blocks("p1"))
    assert full >= 4
    for tag in ("p1", "p2", "p2"):  # the second p2 is a reported hit: the engine reports counts
        await send(app, tag)
    assert index.matched("a", blocks("p1")) == full

    engine.evict_all()  # memory pressure elsewhere: the engine drops every block
    await send(app, "p2")  # the index expects a hit; the answer reports none

    assert index.matched("a", blocks("p1")) == 0  # sent before p2's evicted blocks: gone as well
    assert index.matched("a", blocks("p2")) == full  # prefilled again just now
    await send(app, "p2")
    assert index.matched("a", blocks("p2")) == full
    metrics = app.metrics.render().decode()
    assert 'infleet_gateway_prefix_cache_feedback_total{result="evicted"} 1.0' in metrics
    assert 'infleet_gateway_prefix_cache_feedback_total{result="hit"} 2.0' in metrics


async def test_a_stream_reports_through_its_usage_chunk() -> None:
    engine = CachingEngine()
    app, _ = build_gateway(config(A), {A: engine})
    for tag in ("p1", "p2", "p2"):
        await send(app, tag, stream=True)
    engine.evict_all()
    await send(app, "p2", stream=True)
    assert app.prefix_index.matched("a", blocks("p1")) == 0


async def test_a_simulated_vllm_engines_real_hits_read_as_hits_not_evictions() -> None:
    """Against the simulated vLLM engine (its tokenizer, chat template and 16-token KV blocks): a repeated
    prompt and a prompt sharing only its first half with an earlier one both settle as hits; the
    index is corrected only once the engine really lost its blocks (it restarted empty)."""
    async with EngineHost() as host:
        spec = EngineSpec(
            model="meta-llama/Llama-3.2-1B-Instruct", gpu="H100", enable_prompt_tokens_details=True
        )
        address = await host.start(spec)
        backend = {"url": address.url, "model": "llama-3.2-1b-instruct", "name": "sim"}
        config = {
            "models": [{"name": "llama", "backends": [backend]}],
            "health": {"enabled": False},
            "scrape": {"enabled": False},
            "access_log": {"enabled": False},
        }
        app = GatewayApp(parse_config(config), background=False)
        try:
            shared = "Runbook: check the disk, then the pager, then the queue depth. " * 40
            first = chat(content=shared + "What broke in us-east?", max_tokens=2)
            second = chat(content=shared + "Why is eu-west slow today? " * 20, max_tokens=2)
            other = chat(content="Summarise the incident timeline for the on-call. " * 40, max_tokens=2)
            for body in (other, first, first, second):
                assert (await call(app, "/v1/chat/completions", body)).status == 200
            metrics = app.metrics.render().decode()
            assert 'infleet_gateway_prefix_cache_feedback_total{result="hit"} 2.0' in metrics
            assert 'result="evicted"} 0.0' in metrics
            blocks_first = parse_body(orjson.dumps(first)).prefix("llama")
            assert app.prefix_index.matched("sim", blocks_first) == len(blocks_first)

            await host.stop(address)  # the engine restarts with an empty cache
            address = await host.start(spec, port=address.port)
            assert (await call(app, "/v1/chat/completions", second)).status == 200
            assert 'result="evicted"} 1.0' in app.metrics.render().decode()
            blocks_other = parse_body(orjson.dumps(other)).prefix("llama")
            assert app.prefix_index.matched("sim", blocks_other) == 0  # sent there before: gone too
            assert app.prefix_index.matched("sim", blocks_first) == len(blocks_first)  # prefilled again
        finally:
            await app.shutdown()
