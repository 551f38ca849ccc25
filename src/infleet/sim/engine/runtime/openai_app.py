"""The engine's HTTP surface: vLLM's OpenAI-compatible server, as handlers for ``http_server``.

Every handler runs synchronously when its request is complete: plain endpoints answer at once,
inference requests submit their sequences with a follower (``followers``) that writes the response as
the engine steps. Errors come out in vLLM's nested error shape with vLLM's statuses.
"""

from __future__ import annotations

import hashlib
import hmac
import zlib
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from infleet.sim.engine.model.sequence import Sequence
from infleet.sim.engine.model.tokenizer import encode, render_chat
from infleet.sim.engine.runtime.engine import SimEngine
from infleet.sim.engine.runtime.errors import EngineError, bad_request, not_found, send_error
from infleet.sim.engine.runtime.faults import FaultSpec, FaultSpecError
from infleet.sim.engine.runtime.followers import CompletionFollower, StreamFollower
from infleet.sim.engine.runtime.http_server import Headers, Request, Response
from infleet.sim.engine.runtime.openapi import openapi_document
from infleet.sim.engine.runtime.protocol import (
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
    usage,
)

Route = Callable[[Request, Response], None]
M = TypeVar("M", bound=BaseModel)

_JSON: Headers = [(b"content-type", b"application/json")]
_METRICS: Headers = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]


def _json(response: Response, status: int, value: object, headers: Headers = _JSON) -> None:
    response.send(status, orjson.dumps(value), headers)


def _parse(model: type[M], body: bytes) -> M:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise bad_request(f"{model.__name__}: field {field}: {first['msg']}") from exc


def _object_body(request: Request) -> dict[str, Any]:
    """A JSON object body (empty: ``{}``), or a 400 that says what was wrong."""
    try:
        value = orjson.loads(request.body or b"{}")
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"{request.path}: the body is not valid JSON ({exc}); send a JSON object") from exc
    if not isinstance(value, dict):
        raise bad_request(f"{request.path}: the body must be a JSON object, got {type(value).__name__}")
    return value


class OpenAIApp:
    """Serves one ``SimEngine`` the way ``vllm serve`` does."""

    def __init__(self, engine: SimEngine, admin_token: str | None = None) -> None:
        self.engine = engine
        self.name = engine.served_model_name
        # /admin/* changes how the engine behaves: it needs this bearer token, and is off without one.
        self._admin_digest = hashlib.sha256(admin_token.encode()).digest() if admin_token else None
        self._routes: dict[tuple[str, str], Route] = {
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
            ("GET", "/openapi.json"): self._openapi,
            ("GET", "/admin/faults"): self._get_faults,
            ("POST", "/admin/faults"): self._set_faults,
        }

    def __call__(self, request: Request, response: Response) -> None:
        method = "GET" if request.method == "HEAD" else request.method
        route = self._routes.get((method, request.path))
        try:
            if route is None:
                known = any(path == request.path for _, path in self._routes)
                raise EngineError(
                    405 if known else 404,
                    "BadRequestError" if known else "NotFoundError",
                    f"{request.method} {request.path} is not served by this engine",
                )
            route(request, response)
        except EngineError as err:
            send_error(response, err)

    # -- plain endpoints -------------------------------------------------------------------------------

    def _openapi(self, request: Request, response: Response) -> None:
        response.send(200, openapi_document(), _JSON)

    def _health(self, request: Request, response: Response) -> None:
        response.send(200 if self.engine.health() == "ok" else 503, b"", [])

    def _version(self, request: Request, response: Response) -> None:
        _json(response, 200, {"version": self.engine.spec.version})

    def _load(self, request: Request, response: Response) -> None:
        _json(response, 200, {"server_load": self.engine.load})

    def _metrics(self, request: Request, response: Response) -> None:
        response.send(200, self.engine.metrics.render(), _METRICS)

    def _models(self, request: Request, response: Response) -> None:
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
        _json(response, 200, {"object": "list", "data": [card]})

    def _tokenize(self, request: Request, response: Response) -> None:
        body = _object_body(request)
        text = render_chat(body["messages"]) if "messages" in body else str(body.get("prompt", ""))
        tokens = encode(text)
        _json(
            response,
            200,
            {
                "count": len(tokens),
                "max_model_len": self.engine.max_model_len,
                "tokens": tokens,
                "token_strs": None,
            },
        )

    def _check_admin(self, request: Request) -> None:
        if self._admin_digest is None:
            raise EngineError(
                403, "PermissionDeniedError", "admin endpoints are off: start the engine with --admin-token"
            )
        scheme, _, token = (request.header(b"authorization") or "").partition(" ")
        offered = hashlib.sha256(token.strip().encode()).digest()
        if scheme.lower() != "bearer" or not hmac.compare_digest(offered, self._admin_digest):
            raise EngineError(
                401, "AuthenticationError", "admin endpoints need Authorization: Bearer <admin token>"
            )

    def _get_faults(self, request: Request, response: Response) -> None:
        self._check_admin(request)
        spec = self.engine.faults.spec
        _json(response, 200, {"spec": spec.to_text(), "faults": spec.model_dump()})

    def _set_faults(self, request: Request, response: Response) -> None:
        """Replace the faults: body ``{"spec": "error_rate=0.1,..."}`` or the fields of FaultSpec."""
        self._check_admin(request)
        body = _object_body(request)
        try:
            spec = FaultSpec.parse(body["spec"]) if "spec" in body else FaultSpec.model_validate(body)
        except (FaultSpecError, ValidationError) as exc:
            raise bad_request(f"fault spec: {exc}") from exc
        self.engine.set_faults(spec)
        _json(response, 200, {"spec": spec.to_text(), "faults": spec.model_dump()})

    # -- inference -------------------------------------------------------------------------------------

    def _check_model(self, model: str | None) -> None:
        if model is not None and model not in (self.name, self.engine.model.name):
            raise not_found(f"The model `{model}` does not exist.")

    def _cached_tokens(self, seqs: list[Sequence]) -> int | None:
        """Prompt tokens the prefix cache served, reported as vLLM does only under
        ``--enable-prompt-tokens-details``."""
        if not self.engine.spec.enable_prompt_tokens_details:
            return None
        return sum(s.cached_tokens for s in seqs)

    def _orca_headers(self, request: Request) -> list[tuple[bytes, bytes]]:
        fmt = request.header(b"endpoint-load-metrics-format")
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

    def _chat(self, request: Request, response: Response) -> None:
        req = _parse(ChatCompletionRequest, request.body)
        self._check_model(req.model)
        if req.n != 1:
            raise bad_request("ChatCompletionRequest: field n: only n=1 is supported by the simulated engine")
        self.engine.check_accepting()
        prompt = render_chat(req.messages, req.add_generation_prompt)
        seq = self.engine.create_sequence(req.request_id or new_id("chatcmpl"), prompt, req.sampling())
        if req.stream:
            encoder = ChunkEncoder("chat", self.name, req.include_usage)
            StreamFollower(self.engine, encoder, response).follow(seq)
            return
        headers = self._orca_headers(request)

        def reply(seqs: list[Sequence]) -> None:
            (done,) = seqs
            text = done.text_between(0, done.num_output)
            body = chat_response(
                new_id("chatcmpl"),
                now_s(),
                self.name,
                [chat_choice(0, text, done.reported_finish_reason, done.stop_reason)],
                usage(done.prompt_len, done.num_output, self._cached_tokens([done])),
            )
            response.send(200, body, headers)

        CompletionFollower(self.engine, [seq], response, reply).follow()

    def _completions(self, request: Request, response: Response) -> None:
        req = _parse(CompletionRequest, request.body)
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
            encoder = ChunkEncoder("completion", self.name, req.include_usage)
            StreamFollower(self.engine, encoder, response, echo).follow(seqs[0])
            return
        headers = self._orca_headers(request)

        def reply(done: list[Sequence]) -> None:
            choices = []
            for i, (seq, p) in enumerate(zip(done, prompts, strict=True)):
                text = seq.text_between(0, seq.num_output)
                if req.echo and isinstance(p, str):
                    text = p + text
                choices.append(completion_choice(i, text, seq.reported_finish_reason, seq.stop_reason))
            use = usage(
                sum(s.prompt_len for s in done), sum(s.num_output for s in done), self._cached_tokens(done)
            )
            response.send(200, completion_response(rid, now_s(), self.name, choices, use), headers)

        CompletionFollower(self.engine, seqs, response, reply).follow()

    def _embeddings(self, request: Request, response: Response) -> None:
        req = _parse(EmbeddingRequest, request.body)
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
        _json(response, 200, body)
