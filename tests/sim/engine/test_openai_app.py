"""The HTTP surface via the official openai client and raw HTTP: shapes, usage, errors, metrics, faults."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator

import httpx
import openai
import orjson
import pytest

from infleet.sim.engine import EngineAddress, EngineHost, EngineSpec
from infleet.sim.engine.model.sequence import Sequence
from infleet.sim.engine.model.tokenizer import count_tokens, render_chat

MODEL = "llama-3.1-8b-instruct"
ADMIN_TOKEN = "sk-engine-admin"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def host() -> AsyncIterator[EngineHost]:
    async with EngineHost(admin_token=ADMIN_TOKEN) as h:
        yield h


@pytest.fixture
async def addr(host: EngineHost) -> EngineAddress:
    return await host.start(EngineSpec(model=MODEL, gpu="H100", max_model_len=4096))


def client(addr: EngineAddress) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=addr.base_url, api_key="unused", max_retries=0)


async def test_chat_usage_and_determinism(addr: EngineAddress) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Why is the queue long?"},
    ]
    c = client(addr)
    first = await c.chat.completions.create(model=MODEL, messages=messages, max_tokens=24)  # type: ignore[arg-type]
    second = await c.chat.completions.create(model=MODEL, messages=messages, max_tokens=24)  # type: ignore[arg-type]
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.choices[0].finish_reason == "length"
    assert first.usage is not None
    assert first.usage.completion_tokens == 24
    assert first.usage.prompt_tokens == count_tokens(render_chat(messages))
    assert first.usage.total_tokens == first.usage.prompt_tokens + 24
    assert first.id.startswith("chatcmpl-")
    assert first.object == "chat.completion"


async def test_streaming_chunks_share_id_and_end_with_usage_and_done(addr: EngineAddress) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 12,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    async with (
        httpx.AsyncClient() as http,
        http.stream("POST", addr.url + "/v1/chat/completions", json=body) as r,
    ):
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = (await r.aread()).decode()
    events = [e.removeprefix("data: ") for e in raw.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    chunks = [orjson.loads(e) for e in events[:-1]]
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["object"] == "chat.completion.chunk" and "usage" in c for c in chunks)
    finals = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finals) == 1
    assert finals[0]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 12
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    full = await client(addr).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=12
    )
    assert text == full.choices[0].message.content


async def test_openai_async_streaming_and_completions(addr: EngineAddress) -> None:
    c = client(addr)
    stream = await c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "go"}], max_tokens=8, stream=True
    )
    parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
    assert "".join(parts)
    done = await c.completions.create(model=MODEL, prompt="Once upon a time")
    assert done.usage is not None
    assert done.usage.completion_tokens == 16
    assert done.object == "text_completion"
    cstream = await c.completions.create(model=MODEL, prompt="Once", max_tokens=5, stream=True)
    assert "".join([ch.choices[0].text async for ch in cstream if ch.choices])


async def test_embeddings_float_and_base64(addr: EngineAddress) -> None:
    c = client(addr)
    emb = await c.embeddings.create(model=MODEL, input=["alpha", "beta"])  # the client asks for base64
    assert len(emb.data) == 2
    assert len(emb.data[0].embedding) == 1024
    assert sum(v * v for v in emb.data[0].embedding) == pytest.approx(1.0, rel=1e-4)
    again = await c.embeddings.create(model=MODEL, input="alpha", encoding_format="float")
    assert again.data[0].embedding == pytest.approx(emb.data[0].embedding, rel=1e-5)


async def test_json_schema_and_stop(addr: EngineAddress) -> None:
    c = client(addr)
    schema = {"type": "object", "properties": {"cause": {"type": "string"}, "confidence": {"type": "number"}}}
    out = await c.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "rca"}],
        max_tokens=200,
        response_format={"type": "json_schema", "json_schema": {"name": "rca", "schema": schema}},
    )
    value = orjson.loads(out.choices[0].message.content or "")
    assert set(value) == {"cause", "confidence"}
    plain = await c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x"}], max_tokens=60
    )
    word = (plain.choices[0].message.content or "").split()[5]
    stopped = await c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x"}], max_tokens=60, stop=[" " + word]
    )
    assert stopped.choices[0].finish_reason == "stop"
    assert (plain.choices[0].message.content or "").startswith(stopped.choices[0].message.content or "")


async def test_errors_in_vllm_shape(addr: EngineAddress) -> None:
    c = client(addr)
    with pytest.raises(openai.BadRequestError) as too_long:
        await c.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}], max_tokens=5000
        )
    assert "maximum context length is 4096" in str(too_long.value)
    with pytest.raises(openai.NotFoundError):
        await c.chat.completions.create(model="other", messages=[{"role": "user", "content": "x"}])
    async with httpx.AsyncClient() as http:
        r = await http.post(addr.url + "/v1/chat/completions", json={"model": MODEL})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "BadRequestError"
    assert r.json()["error"]["code"] == 400
    assert "messages" in r.json()["error"]["message"]


async def test_429_past_the_waiting_limit(host: EngineHost) -> None:
    addr = await host.start(EngineSpec(model="qwen2.5-7b-instruct", gpu="L4", max_num_seqs=1, max_waiting=1))
    c = client(addr)
    msg = [{"role": "user", "content": "long"}]
    running = asyncio.create_task(
        c.chat.completions.create(
            model="qwen2.5-7b-instruct",
            messages=msg,  # type: ignore[arg-type]
            max_tokens=400,
            extra_body={"ignore_eos": True},
        )
    )
    await asyncio.sleep(0.05)
    queued = asyncio.create_task(
        c.chat.completions.create(
            model="qwen2.5-7b-instruct",
            messages=msg,  # type: ignore[arg-type]
            max_tokens=5,
        )
    )
    await asyncio.sleep(0.05)
    with pytest.raises(openai.RateLimitError) as rejected:
        await c.chat.completions.create(model="qwen2.5-7b-instruct", messages=msg, max_tokens=5)  # type: ignore[arg-type]
    assert float(rejected.value.response.headers["retry-after"]) >= 1.0
    host.engine(addr).abort(host.engine(addr).scheduler.running[0])
    await asyncio.gather(running, queued, return_exceptions=True)
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(addr.url + "/metrics")).text
    assert 'kaito_ratelimit_rejected_total{engine="0",model_name="qwen2.5-7b-instruct"} 1.0' in metrics


async def test_crash_fault_kills_streams_and_health(addr: EngineAddress) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 3000,
        "stream": True,
        "ignore_eos": True,
    }
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(addr.url + "/health")).status_code == 200
        async with http.stream("POST", addr.url + "/v1/chat/completions", json=body) as r:
            lines = r.aiter_lines()
            while not (await anext(lines)).startswith("data: {"):
                pass
            set_fault = await http.post(addr.url + "/admin/faults", headers=ADMIN, json={"spec": "crash"})
            assert set_fault.json()["spec"] == "crash"
            rest = [line async for line in lines if line]
        assert any('"error"' in line for line in rest)
        assert rest[-1] == "data: [DONE]"
        assert (await http.get(addr.url + "/health")).status_code == 503
        r = await http.post(addr.url + "/v1/completions", json={"model": MODEL, "prompt": "x"})
        assert r.status_code == 503


async def test_error_rate_and_slow_start_faults(addr: EngineAddress) -> None:
    async with httpx.AsyncClient() as http:
        await http.post(addr.url + "/admin/faults", headers=ADMIN, json={"error_rate": 1.0})
        r = await http.post(addr.url + "/v1/completions", json={"model": MODEL, "prompt": "x"})
        assert r.status_code == 500
        assert r.json()["error"]["type"] == "InternalServerError"
        await http.post(addr.url + "/admin/faults", headers=ADMIN, json={"spec": "slow_start=0.3"})
        assert (await http.get(addr.url + "/health")).status_code == 503
        await asyncio.sleep(0.35)
        assert (await http.get(addr.url + "/health")).status_code == 200
        bad = await http.post(addr.url + "/admin/faults", headers=ADMIN, json={"spec": "explode"})
        assert bad.status_code == 400


async def test_metrics_models_version_load_and_orca(addr: EngineAddress) -> None:
    c = client(addr)
    await c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}], max_tokens=4)
    async with httpx.AsyncClient() as http:
        text = (await http.get(addr.url + "/metrics")).text
        for name in (
            "vllm:num_requests_running",
            "vllm:num_requests_waiting",
            "vllm:kv_cache_usage_perc",
            "vllm:prompt_tokens_total",
            "vllm:generation_tokens_total",
            "vllm:prefix_cache_queries_total",
            "vllm:prefix_cache_hits_total",
            "vllm:time_to_first_token_seconds_bucket",
            "vllm:inter_token_latency_seconds_bucket",
            "vllm:e2e_request_latency_seconds_count",
            "vllm:request_queue_time_seconds_sum",
        ):
            assert name in text, name
        assert 'vllm:request_success_total{engine="0",finished_reason="length",model_name="' in text
        assert 'num_gpu_blocks="' in text
        models = (await http.get(addr.url + "/v1/models")).json()
        assert models["data"][0]["id"] == MODEL
        assert models["data"][0]["max_model_len"] == 4096
        assert (await http.get(addr.url + "/version")).json()["version"]
        assert (await http.get(addr.url + "/load")).json() == {"server_load": 0}
        r = await http.post(
            addr.url + "/v1/chat/completions",
            headers={"endpoint-load-metrics-format": "text"},
            json={"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 2},
        )
        assert r.headers["endpoint-load-metrics"].startswith("TEXT named_metrics.kv_cache_usage_perc=")


async def test_hang_spike_and_degrade_faults(addr: EngineAddress) -> None:
    body = {"model": MODEL, "prompt": "x", "max_tokens": 20, "ignore_eos": True}

    async def timed() -> float:
        start = asyncio.get_running_loop().time()
        r = await http.post(addr.url + "/v1/completions", json=body)
        assert r.status_code == 200
        return asyncio.get_running_loop().time() - start

    async with httpx.AsyncClient(timeout=10) as http:
        await timed()  # warm the connection
        normal = await timed()
        await http.post(addr.url + "/admin/faults", headers=ADMIN, json={"spec": "degrade=0.25"})
        slow = await timed()
        assert slow > 2 * normal
        await http.post(addr.url + "/admin/faults", headers=ADMIN, json={"spec": "spike=1@0.3"})
        assert await timed() > 0.3
        await http.post(addr.url + "/admin/faults", headers=ADMIN, json={"spec": "hang"})
        stuck = asyncio.create_task(http.post(addr.url + "/v1/completions", json=body))
        await asyncio.sleep(0.3)
        assert not stuck.done()
        assert (await http.get(addr.url + "/health")).status_code == 200  # a hung engine still answers probes
        await http.post(addr.url + "/admin/faults", headers=ADMIN, json={"spec": ""})
        assert (await asyncio.wait_for(stuck, 5)).status_code == 200


@pytest.mark.parametrize("stream", [True, False])
async def test_finished_requests_are_freed_without_the_cyclic_collector(
    addr: EngineAddress, stream: bool
) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 5,
        "stream": stream,
    }
    gc.collect()
    gc.disable()
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(3):
                assert (await http.post(addr.url + "/v1/chat/completions", json=body)).status_code == 200
        await asyncio.sleep(0.05)  # let the handlers' tasks finish
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        assert [o for o in gc.garbage if isinstance(o, Sequence)] == []
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


async def test_cached_prompt_tokens_reported_as_vllm_does_under_its_flag(host: EngineHost) -> None:
    """With --enable-prompt-tokens-details the second identical prompt reports the prefix-cache hit
    (null details when nothing was cached, as vLLM); without the flag details stay null."""
    system = "You triage incidents. " * 60  # several KV blocks of shared prefix
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "What broke?"}]
    reporting = await host.start(
        EngineSpec(model=MODEL, gpu="H100", max_model_len=4096, enable_prompt_tokens_details=True)
    )
    quiet = await host.start(EngineSpec(model=MODEL, gpu="H100", max_model_len=4096))
    async with httpx.AsyncClient() as http:
        body = {"model": MODEL, "messages": messages, "max_tokens": 4}
        url = reporting.url + "/v1/chat/completions"
        cold = (await http.post(url, json=body)).json()["usage"]
        warm = (await http.post(url, json=body)).json()["usage"]
        stream = {**body, "stream": True, "stream_options": {"include_usage": True}}
        async with http.stream("POST", url, json=stream) as r:
            events = [e for e in (await r.aread()).decode().split("\n\n") if e.startswith("data: {")]
        streamed = orjson.loads(events[-1].removeprefix("data: "))["usage"]
        completion = {"model": MODEL, "prompt": system, "max_tokens": 4}
        await http.post(reporting.url + "/v1/completions", json=completion)
        completed = (await http.post(reporting.url + "/v1/completions", json=completion)).json()["usage"]
        await http.post(quiet.url + "/v1/chat/completions", json=body)
        silent = (await http.post(quiet.url + "/v1/chat/completions", json=body)).json()["usage"]
    assert cold["prompt_tokens_details"] is None
    cached = warm["prompt_tokens_details"]["cached_tokens"]
    # Whole 16-token blocks, never the whole prompt (its last token is always computed).
    assert 0 < cached < warm["prompt_tokens"]
    assert cached % 16 == 0
    assert warm["prompt_tokens"] - cached <= 32
    assert streamed["prompt_tokens_details"]["cached_tokens"] == cached
    assert completed["prompt_tokens_details"]["cached_tokens"] > 0
    assert silent["prompt_tokens_details"] is None
