"""The engine's HTTP surface: vLLM's OpenAI-compatible server as a raw ASGI application.

Served by uvicorn, one app per engine (``EngineHost`` and the ``engine-sim`` command build it).
Raw ASGI rather than a framework because streaming is the hot path: thousands of SSE chunks per
second go straight from the engine's step to ``send`` without per-chunk framework layers.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from infleet.sim.engine.engine import SimEngine, StreamHandle
from infleet.sim.engine.errors import EngineError, bad_request, not_found
from infleet.sim.engine.faults import FaultSpec, FaultSpecError
from infleet.sim.engine.protocol import (
    DONE,
    ChatCompletionRequest,
    ChunkEncoder,
    CompletionRequest,
    EmbeddingRequest,
    chat_choice,
    chat_response,
    completion_choice,
    completion_response,
    embedding_vector,
    encode_embedding,
    new_id,
    now_s,
    split_inputs,
    sse,
    usage,
)
from infleet.sim.engine.sequence import Sequence
from infleet.sim.engine.tokenizer import encode, render_chat

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
M = TypeVar("M", bound=BaseModel)

_JSON = [(b"content-type", b"application/json")]
_SSE = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": headers if headers is not None else _JSON,
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _error(send: Send, err: EngineError) -> None:
    headers = _JSON + [(k.encode(), v.encode()) for k, v in err.headers.items()]
    await _respond(send, err.status, orjson.dumps(err.body()), headers)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise asyncio.CancelledError
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _parse(model: type[M], body: bytes) -> M:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise bad_request(f"{model.__name__}: field {field}: {first['msg']}") from exc


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class OpenAIApp:
    """ASGI app serving one ``SimEngine`` the way ``vllm serve`` does."""

    def __init__(self, engine: SimEngine) -> None:
        self.engine = engine
        self.name = engine.served_model_name
        self._routes: dict[tuple[str, str], Handler] = {
            ("GET", "/health"): self._health,
            ("GET", "/ping"): self._health,
            ("POST", "/ping"): self._health,
            ("GET", "/version"): self._version,
            ("GET", "/load"): self._load,
            ("GET", "/metrics"): self._metrics,
            ("GET", "/v1/models"): self._models,
            ("POST", "/v1/chat/completions"): self._chat,
            ("POST", "/v1/completions"): self._completions,
            ("POST", "/v1/embeddings"): self._embeddings,
            ("POST", "/tokenize"): self._tokenize,
            ("GET", "/admin/faults"): self._get_faults,
            ("POST", "/admin/faults"): self._set_faults,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        handler = self._routes.get((scope["method"], scope["path"]))
        if handler is None:
            known = any(path == scope["path"] for _, path in self._routes)
            status = 405 if known else 404
            await _error(
                send,
                EngineError(
                    status,
                    "NotFoundError" if status == 404 else "BadRequestError",
                    f"{scope['method']} {scope['path']} is not served by this engine",
                ),
            )
            return
        try:
            await handler(scope, receive, send)
        except EngineError as err:
            await _error(send, err)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- plain endpoints -------------------------------------------------------------------------------

    async def _health(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _respond(send, 200 if self.engine.health() == "ok" else 503, b"", [])

    async def _version(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _respond(send, 200, orjson.dumps({"version": self.engine.spec.version}))

    async def _load(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _respond(send, 200, orjson.dumps({"server_load": self.engine.load}))

    async def _metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _respond(
            send,
            200,
            self.engine.metrics.render(),
            [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")],
        )

    async def _models(self, scope: Scope, receive: Receive, send: Send) -> None:
        created = now_s()
        card = {
            "id": self.name,
            "object": "model",
            "created": created,
            "owned_by": "vllm",
            "root": self.engine.model.name,
            "parent": None,
            "max_model_len": self.engine.max_model_len,
            "permission": [
                {
                    "id": new_id("modelperm"),
                    "object": "model_permission",
                    "created": created,
                    "allow_create_engine": False,
                    "allow_sampling": True,
                    "allow_logprobs": True,
                    "allow_search_indices": False,
                    "allow_view": True,
                    "allow_fine_tuning": False,
                    "organization": "*",
                    "group": None,
                    "is_blocking": False,
                }
            ],
        }
        await _respond(send, 200, orjson.dumps({"object": "list", "data": [card]}))

    async def _tokenize(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = orjson.loads(await _read_body(receive) or b"{}")
        text = render_chat(body["messages"]) if "messages" in body else str(body.get("prompt", ""))
        tokens = encode(text)
        await _respond(
            send,
            200,
            orjson.dumps(
                {
                    "count": len(tokens),
                    "max_model_len": self.engine.max_model_len,
                    "tokens": tokens,
                    "token_strs": None,
                }
            ),
        )

    async def _get_faults(self, scope: Scope, receive: Receive, send: Send) -> None:
        spec = self.engine.faults.spec
        await _respond(send, 200, orjson.dumps({"spec": spec.to_text(), "faults": spec.model_dump()}))

    async def _set_faults(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Replace the faults: body ``{"spec": "error_rate=0.1,..."}`` or the fields of FaultSpec."""
        body = orjson.loads(await _read_body(receive) or b"{}")
        try:
            spec = FaultSpec.parse(body["spec"]) if "spec" in body else FaultSpec.model_validate(body)
        except (FaultSpecError, ValidationError) as exc:
            raise bad_request(f"fault spec: {exc}") from exc
        self.engine.set_faults(spec)
        await _respond(send, 200, orjson.dumps({"spec": spec.to_text(), "faults": spec.model_dump()}))

    # -- inference -------------------------------------------------------------------------------------

    def _check_model(self, model: str | None) -> None:
        if model is not None and model not in (self.name, self.engine.model.name):
            raise not_found(f"The model `{model}` does not exist.")

    def _orca_headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        fmt = _header(scope, b"endpoint-load-metrics-format")
        if fmt is None:
            return _JSON
        kv = self.engine.scheduler.blocks.usage
        waiting = float(len(self.engine.scheduler.waiting))
        if fmt.lower() == "json":
            value = (
                "JSON "
                + orjson.dumps(
                    {"named_metrics": {"kv_cache_usage_perc": kv, "num_requests_waiting": waiting}}
                ).decode()
            )
        else:
            value = (
                f"TEXT named_metrics.kv_cache_usage_perc={kv}, named_metrics.num_requests_waiting={waiting}"
            )
        return [*_JSON, (b"endpoint-load-metrics", value.encode())]

    async def _chat(self, scope: Scope, receive: Receive, send: Send) -> None:
        req = _parse(ChatCompletionRequest, await _read_body(receive))
        self._check_model(req.model)
        if req.n != 1:
            raise bad_request("ChatCompletionRequest: field n: only n=1 is supported by the simulated engine")
        self.engine.check_accepting()
        prompt = render_chat(req.messages, req.add_generation_prompt)
        seq = self.engine.create_sequence(req.request_id or new_id("chatcmpl"), prompt, req.sampling())
        if req.stream:
            await self._stream(ChunkEncoder("chat", self.name, req.include_usage), seq, receive, send)
            return
        await self._await(seq, receive)
        text = seq.text_between(0, seq.num_output)
        body = chat_response(
            new_id("chatcmpl"),
            now_s(),
            self.name,
            [chat_choice(0, text, seq.reported_finish_reason, seq.stop_reason)],
            usage(seq.prompt_len, seq.num_output),
        )
        await _respond(send, 200, body, self._orca_headers(scope))

    async def _completions(self, scope: Scope, receive: Receive, send: Send) -> None:
        req = _parse(CompletionRequest, await _read_body(receive))
        self._check_model(req.model)
        if req.n != 1:
            raise bad_request("CompletionRequest: field n: only n=1 is supported by the simulated engine")
        prompts = req.prompts()
        if req.stream and len(prompts) != 1:
            raise bad_request("CompletionRequest: field prompt: streaming takes a single prompt")
        self.engine.check_accepting()
        rid = req.request_id or new_id("cmpl")
        seqs = [self.engine.create_sequence(f"{rid}-{i}", p, req.sampling()) for i, p in enumerate(prompts)]
        if req.stream:
            echo = prompts[0] if req.echo and isinstance(prompts[0], str) else ""
            await self._stream(
                ChunkEncoder("completion", self.name, req.include_usage), seqs[0], receive, send, echo
            )
            return
        await asyncio.gather(*(self._await(seq, receive) for seq in seqs))
        choices = []
        for i, (seq, p) in enumerate(zip(seqs, prompts, strict=True)):
            text = seq.text_between(0, seq.num_output)
            if req.echo and isinstance(p, str):
                text = p + text
            choices.append(completion_choice(i, text, seq.reported_finish_reason, seq.stop_reason))
        use = usage(sum(s.prompt_len for s in seqs), sum(s.num_output for s in seqs))
        await _respond(
            send, 200, completion_response(rid, now_s(), self.name, choices, use), self._orca_headers(scope)
        )

    async def _embeddings(self, scope: Scope, receive: Receive, send: Send) -> None:
        req = _parse(EmbeddingRequest, await _read_body(receive))
        self._check_model(req.model)
        self.engine.check_accepting()
        inputs = split_inputs(req.input)
        dims = req.dimensions or min(self.engine.model.hidden_size, 1024)
        data = []
        total = 0
        for i, item in enumerate(inputs):
            tokens = encode(item) if isinstance(item, str) else item
            if len(tokens) > self.engine.max_model_len:
                raise bad_request(
                    f"input {i} has {len(tokens)} tokens, over max_model_len "
                    f"{self.engine.max_model_len}; shorten it"
                )
            total += len(tokens)
            seed = zlib.crc32(orjson.dumps(tokens[:4096]))
            vector = encode_embedding(embedding_vector(seed, dims), req.encoding_format)
            data.append({"index": i, "object": "embedding", "embedding": vector})
        body = {
            "id": new_id("embd"),
            "object": "list",
            "created": now_s(),
            "model": self.name,
            "data": data,
            "usage": {
                "prompt_tokens": total,
                "total_tokens": total,
                "completion_tokens": 0,
                "prompt_tokens_details": None,
            },
        }
        await _respond(send, 200, orjson.dumps(body))

    async def _await(self, seq: Sequence, receive: Receive) -> None:
        handle = self.engine.submit(seq, streaming=False)
        watcher = asyncio.create_task(self._watch(receive, seq))
        try:
            await handle.wait_done()
        finally:
            watcher.cancel()
            if not seq.done:
                self.engine.abort(seq)
            handle.close()
        if seq.error is not None:
            raise EngineError(503, "ServiceUnavailableError", f"engine {self.name}: {seq.error}")

    async def _watch(self, receive: Receive, seq: Sequence) -> None:
        """Abort the sequence when the client goes away, so its KV blocks are freed as in vLLM."""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.engine.abort(seq)
                return

    async def _stream(
        self, enc: ChunkEncoder, seq: Sequence, receive: Receive, send: Send, echo: str = ""
    ) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": _SSE})
        handle: StreamHandle = self.engine.submit(seq, streaming=True)
        watcher = asyncio.create_task(self._watch(receive, seq))
        first = True
        complete = False
        try:
            while True:
                text, done = await handle.next_delta()
                lead = b""
                if first:
                    first = False
                    lead = enc.role() if enc.kind == "chat" else b""
                    text = echo + text
                if done:
                    if seq.error is not None:
                        err = EngineError(503, "ServiceUnavailableError", f"engine {self.name}: {seq.error}")
                        await send({"type": "http.response.body", "body": lead + sse(err.body()) + DONE})
                        complete = True
                        return
                    tail = enc.final(text, seq.reported_finish_reason, seq.stop_reason)
                    if enc.include_usage:
                        tail += enc.usage(seq.prompt_len, seq.num_output)
                    await send({"type": "http.response.body", "body": lead + tail + DONE})
                    complete = True
                    return
                await send(
                    {"type": "http.response.body", "body": lead + enc.content(text), "more_body": True}
                )
        finally:
            # A complete response wakes the watcher with http.disconnect and it ends by itself; cancelling
            # it instead costs a CancelledError and its traceback per request, garbage for the collector.
            if not complete:
                watcher.cancel()
            if not seq.done:
                self.engine.abort(seq)
            handle.close()
