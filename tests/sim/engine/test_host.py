"""EngineHost: several engines in one loop, each on its own port; stop, and client disconnects."""

from __future__ import annotations

import asyncio
import gc

import httpx
import orjson
import pytest

from infleet.sim.engine import EngineHost, EngineSpec


def streamed_chat(max_tokens: int) -> dict[str, object]:
    return {
        "model": "qwen3-8b",
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": max_tokens,
        "stream": True,
        "ignore_eos": True,
    }


async def test_many_engines_serve_and_stop_independently() -> None:
    async with EngineHost() as host:
        specs = [
            EngineSpec(model="qwen3-8b", gpu="L40S"),
            EngineSpec(model="phi-4", gpu="A100-80GB"),
            EngineSpec(model="llama-3.1-70b-instruct", gpu="H100", gpus=4, served_model_name="big"),
        ]
        addrs = [await host.start(spec) for spec in specs]
        assert len({a.port for a in addrs}) == 3
        async with httpx.AsyncClient() as http:
            for addr, name in zip(addrs, ["qwen3-8b", "phi-4", "big"], strict=True):
                r = await http.post(
                    addr.url + "/v1/completions", json={"model": name, "prompt": "hi", "max_tokens": 3}
                )
                assert r.status_code == 200
                assert r.json()["model"] == name
            await host.stop(addrs[0])
            with pytest.raises(httpx.ConnectError):
                await http.get(addrs[0].url + "/health")
            assert (await http.get(addrs[1].url + "/health")).status_code == 200
        assert [a.port for a in host.addresses] == [addrs[1].port, addrs[2].port]


async def test_client_disconnect_aborts_and_frees_kv() -> None:
    async with EngineHost() as host:
        addr = await host.start(EngineSpec(model="qwen3-8b", gpu="L4"))
        engine = host.engine(addr)
        body = streamed_chat(2000)
        async with (
            httpx.AsyncClient() as http,
            http.stream("POST", addr.url + "/v1/chat/completions", json=body) as r,
        ):
            async for line in r.aiter_lines():
                if line.startswith("data: {"):
                    break
            assert engine.scheduler.running
        for _ in range(100):
            if not engine.scheduler.running:
                break
            await asyncio.sleep(0.01)
        assert not engine.scheduler.running
        assert engine.scheduler.blocks.num_used == 0
        assert engine.success.get("abort") == 1


async def test_stop_ends_inflight_requests_with_an_error() -> None:
    async with EngineHost() as host:
        addr = await host.start(EngineSpec(model="qwen3-8b", gpu="L4"))
        async with httpx.AsyncClient(timeout=10) as http:
            pending = asyncio.create_task(
                http.post(
                    addr.url + "/v1/completions",
                    json={"model": "qwen3-8b", "prompt": "x", "max_tokens": 3000, "ignore_eos": True},
                )
            )
            engine = host.engine(addr)
            for _ in range(200):
                if engine.scheduler.running:
                    break
                await asyncio.sleep(0.01)
            await host.stop(addr)
            response = await pending
        assert response.status_code == 503


async def test_stream_interval_coalesces_tokens_into_fewer_chunks() -> None:
    async with EngineHost() as host:
        addr = await host.start(EngineSpec(model="qwen3-8b", gpu="H100", stream_interval=8))
        body = streamed_chat(64)
        async with httpx.AsyncClient() as http:
            async with http.stream("POST", addr.url + "/v1/chat/completions", json=body) as r:
                events = [line async for line in r.aiter_lines() if line.startswith("data: {")]
            full = await http.post(addr.url + "/v1/chat/completions", json={**body, "stream": False})
        text = "".join(orjson.loads(e[6:])["choices"][0]["delta"].get("content", "") for e in events)
        assert text == full.json()["choices"][0]["message"]["content"]
        assert 8 <= len(events) <= 12  # role, ~64/8 content chunks, the final one


async def test_multi_step_scheduling_streams_each_run_as_one_chunk() -> None:
    async with EngineHost() as host:
        addr = await host.start(EngineSpec(model="qwen3-8b", gpu="H100", num_scheduler_steps=8))
        body = streamed_chat(65)
        async with (
            httpx.AsyncClient() as http,
            http.stream("POST", addr.url + "/v1/chat/completions", json=body) as r,
        ):
            contents = [
                orjson.loads(line[6:])["choices"][0]["delta"].get("content")
                for line in [line async for line in r.aiter_lines()]
                if line.startswith("data: {")
            ]
        pieces = [c for c in contents if c]
        # The first token comes from the prefill step; then eight runs of eight decode steps, each
        # handed over when its last step is done (vLLM V0 streams a multi-step run at its end).
        assert 9 <= len(pieces) <= 10


async def test_tune_gc_freezes_while_hosting_and_thaws_stopped_engines() -> None:
    threshold = gc.get_threshold()
    try:
        async with EngineHost(tune_gc=True) as host:
            addr = await host.start(EngineSpec(model="qwen3-8b", gpu="H100"))
            frozen = gc.get_freeze_count()
            assert frozen > 0
            assert gc.get_threshold()[0] >= 50_000
            await host.stop(addr)
            assert gc.get_freeze_count() < frozen  # the stopped engine was thawed and collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


async def test_engines_of_one_host_share_its_pacer_and_flush_governor() -> None:
    async with EngineHost() as host:
        first = await host.start(EngineSpec(model="qwen3-8b", gpu="L4"))
        second = await host.start(EngineSpec(model="qwen3-8b", gpu="L4"))
        assert host.engine(first).pacer is host.engine(second).pacer
        assert host.engine(first).governor is host.engine(second).governor
