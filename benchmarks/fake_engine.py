"""A small vLLM-compatible fake engine for gateway tests and benchmarks (raw ASGI, run by uvicorn).

Speaks the OpenAI chat/completions/embeddings shapes, SSE streaming with include_usage, /health,
/v1/models and vLLM's /metrics names. With `EngineModel` set, it queues requests behind a single
prefill lane and `max_num_seqs` decode slots, and a prefix cache (LRU of prompt blocks) skips the
prefill of cached blocks. Kept beside infleet.sim.engine as the *fast* upstream of
gateway_vs_litellm.py and of the gateway's unit tests: the simulated engine models GPU time (a
100k-token prompt prefills for seconds) and tokenizes every prompt in Python, so it cannot serve
thousands of requests/s with no latency of its own, which a proxy-overhead benchmark needs.
routing.py uses the simulated engine.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from infleet.api.engine_metrics import VLLM, VLLM_PREFIX_CACHE_HITS, VLLM_PREFIX_CACHE_QUERIES, total

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_JSON = [(b"content-type", b"application/json")]
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


@dataclass
class EngineModel:
    """Latency model. Times in seconds; `speed` scales prefill and decode (SKU factor)."""

    prefill_tokens_per_s: float = 20000.0
    decode_s_per_token: float = 0.01
    max_num_seqs: int = 64
    block_chars: int = 64  # one block of 16 tokens is about 64 characters
    cache_blocks: int = 20000
    speed: float = 1.0
    output_tokens: int = 16


@dataclass
class EngineState:
    running: int = 0
    waiting: int = 0
    prompt_tokens: int = 0
    generation_tokens: int = 0
    cache_queries: int = 0
    cache_hits: int = 0
    success: int = 0
    ttft_sum: float = 0.0
    ttft_count: int = 0
    cache: collections.OrderedDict[int, None] = field(default_factory=collections.OrderedDict)


class FakeEngine:
    """The ASGI app. `fail_status` makes inference paths fail with that status (for failover tests)."""

    def __init__(
        self,
        served_model: str = "m",
        model: EngineModel | None = None,
        name: str = "engine",
        fail_status: int = 0,
        reply: str = "Hello from the fake engine",
    ) -> None:
        self.served_model = served_model
        self.model = model
        self.name = name
        self.fail_status = fail_status
        self.reply = reply
        self.state = EngineState()
        self.requests = 0
        self.health_delay = 0.0  # seconds /health waits before answering (a slow or stuck engine)
        self.last_body: bytes = b""
        self._prefill = asyncio.Semaphore(1)
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: C901
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                pass
            await send({"type": "lifespan.shutdown.complete"})
            return
        path = scope["path"]
        if scope["method"] == "GET":
            if path == "/health":
                if self.health_delay:
                    await asyncio.sleep(self.health_delay)
                await self._respond(send, 503 if self.fail_status == 503 else 200, b"", [])
            elif path == "/metrics":
                await self._respond(send, 200, self.metrics(), [(b"content-type", b"text/plain")])
            elif path == "/v1/models":
                data = {
                    "object": "list",
                    "data": [{"id": self.served_model, "object": "model", "owned_by": "vllm"}],
                }
                await self._respond(send, 200, orjson.dumps(data), _JSON)
            else:
                await self._respond(send, 404, b'{"error":{"message":"not found","code":404}}', _JSON)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        self.requests += 1
        self.last_body = body
        if self.fail_status:
            error = {
                "error": {
                    "message": "injected failure",
                    "type": "InternalServerError",
                    "code": self.fail_status,
                }
            }
            await self._respond(send, self.fail_status, orjson.dumps(error), _JSON)
            return
        request = orjson.loads(body)
        if path == "/v1/embeddings":
            out = {
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
                "model": request.get("model"),
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
            await self._respond(send, 200, orjson.dumps(out), [*_JSON, (b"x-engine", self.name.encode())])
            return
        prompt = request.get("messages") or request.get("prompt") or ""
        prompt_text = orjson.dumps(prompt)
        prompt_tokens = max(1, len(prompt_text) // 4)
        chat = path.endswith("chat/completions")
        if self.model is None:
            await self._reply(send, request, chat, prompt_tokens, None)
        else:
            await self._simulate(send, request, chat, prompt_text, prompt_tokens)

    async def _simulate(
        self, send: Send, request: dict[str, Any], chat: bool, prompt: bytes, tokens: int
    ) -> None:
        m = self.model
        assert m is not None
        if self._slots is None:
            self._slots = asyncio.Semaphore(m.max_num_seqs)
        st = self.state
        start = time.monotonic()
        st.waiting += 1
        await self._slots.acquire()
        try:
            async with self._prefill:
                st.waiting -= 1
                st.running += 1
                cached = self._lookup(prompt)
                uncached = max(0, tokens - cached)
                st.cache_queries += tokens
                st.cache_hits += min(cached, tokens)
                await asyncio.sleep(uncached / (m.prefill_tokens_per_s * m.speed))
            ttft = time.monotonic() - start
            st.ttft_sum += ttft
            st.ttft_count += 1
            await self._reply(send, request, chat, tokens, m)
        finally:
            st.running -= 1
            self._slots.release()

    def _lookup(self, prompt: bytes) -> int:
        """Counts cached leading blocks (in tokens) and inserts the prompt's blocks."""
        m = self.model
        assert m is not None
        cache = self.state.cache
        h = 0
        hit_blocks = 0
        missed = False
        for start in range(0, len(prompt) - m.block_chars + 1, m.block_chars):
            h = hash((h, prompt[start : start + m.block_chars]))
            if not missed and h in cache:
                hit_blocks += 1
                cache.move_to_end(h)
            else:
                missed = True
                cache[h] = None
        while len(cache) > m.cache_blocks:
            cache.popitem(last=False)
        return hit_blocks * m.block_chars // 4

    async def _reply(
        self, send: Send, request: dict[str, Any], chat: bool, prompt_tokens: int, m: EngineModel | None
    ) -> None:
        words = self.reply.split(" ")
        n_out = m.output_tokens if m is not None else len(words)
        max_tokens = request.get("max_tokens") or request.get("max_completion_tokens")
        if isinstance(max_tokens, int) and max_tokens > 0:
            n_out = min(n_out, max_tokens)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": n_out,
            "total_tokens": prompt_tokens + n_out,
        }
        st = self.state
        st.prompt_tokens += prompt_tokens
        st.generation_tokens += n_out
        st.success += 1
        model = request.get("model")
        created = int(time.time())
        rid = f"chatcmpl-{self.requests}" if chat else f"cmpl-{self.requests}"
        tokens = [words[i % len(words)] + " " for i in range(n_out)]
        extra = [(b"x-engine", self.name.encode())]
        if not request.get("stream"):
            if m is not None:
                await asyncio.sleep(n_out * m.decode_s_per_token / m.speed)
            text = "".join(tokens)
            choice: dict[str, Any] = {"index": 0, "finish_reason": "stop", "logprobs": None}
            if chat:
                choice["message"] = {"role": "assistant", "content": text}
            else:
                choice["text"] = text
            out = {
                "id": rid,
                "object": "chat.completion" if chat else "text_completion",
                "created": created,
                "model": model,
                "choices": [choice],
                "usage": usage,
            }
            await self._respond(send, 200, orjson.dumps(out), [*_JSON, *extra])
            return
        await send({"type": "http.response.start", "status": 200, "headers": [*_SSE, *extra]})
        obj = "chat.completion.chunk" if chat else "text_completion"
        first = [{"role": "assistant", "content": ""}] if chat else []
        for i, piece in enumerate(first + tokens):
            if m is not None and i > 0:
                await asyncio.sleep(m.decode_s_per_token / m.speed)
            delta = piece if isinstance(piece, dict) else ({"content": piece} if chat else None)
            ch: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": None}
            if chat:
                ch["delta"] = delta
            else:
                ch["text"] = piece
            last = i == len(first) + len(tokens) - 1
            if last:
                ch["finish_reason"] = "stop"
            event = {
                "id": rid,
                "object": obj,
                "created": created,
                "model": model,
                "choices": [ch],
                "usage": None,
            }
            await send(
                {
                    "type": "http.response.body",
                    "body": b"data: " + orjson.dumps(event) + b"\n\n",
                    "more_body": True,
                }
            )
        tail = b""
        if (request.get("stream_options") or {}).get("include_usage"):
            event = {
                "id": rid,
                "object": obj,
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }
            tail = b"data: " + orjson.dumps(event) + b"\n\n"
        await send({"type": "http.response.body", "body": tail + b"data: [DONE]\n\n"})

    @staticmethod
    async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def metrics(self) -> bytes:
        st = self.state
        m = self.model
        blocks = m.cache_blocks if m else 1000
        usage = min(1.0, st.running * 64 / blocks) if m else 0.0
        label = f'model_name="{self.served_model}",engine="0"'
        lines = [
            f"{VLLM.running}{{{label}}} {st.running}",
            f"{VLLM.waiting}{{{label}}} {st.waiting}",
            f"{VLLM.kv_usage[0]}{{{label}}} {usage}",
            f'{VLLM.cache_config_info}{{block_size="16",num_gpu_blocks="{blocks}",{label}}} 1.0',
            f"{total(VLLM.prompt_tokens)}{{{label}}} {st.prompt_tokens}",
            f"{total(VLLM.generation_tokens)}{{{label}}} {st.generation_tokens}",
            f'{total(VLLM.requests)}{{finished_reason="stop",{label}}} {st.success}',
            f"{total(VLLM_PREFIX_CACHE_QUERIES)}{{{label}}} {st.cache_queries}",
            f"{total(VLLM_PREFIX_CACHE_HITS)}{{{label}}} {st.cache_hits}",
        ]
        return ("\n".join(lines) + "\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description="fake vLLM-compatible engine")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", default="m")
    parser.add_argument("--simulate", action="store_true", help="queue and prefix-cache latency model")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--max-num-seqs", type=int, default=64)
    parser.add_argument("--output-tokens", type=int, default=16)
    parser.add_argument("--decode-ms", type=float, default=10.0)
    parser.add_argument("--prefill-tps", type=float, default=20000.0)
    parser.add_argument("--name", default="engine")
    parser.add_argument(
        "--cache-blocks", type=int, default=20000, help="prefix cache size in 16-token blocks"
    )
    args = parser.parse_args()
    import uvicorn

    model = (
        EngineModel(
            speed=args.speed,
            max_num_seqs=args.max_num_seqs,
            output_tokens=args.output_tokens,
            decode_s_per_token=args.decode_ms / 1000,
            prefill_tokens_per_s=args.prefill_tps,
            cache_blocks=args.cache_blocks,
        )
        if args.simulate
        else None
    )
    app = FakeEngine(args.model, model, name=args.name)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        backlog=4096,
    )


if __name__ == "__main__":
    main()
