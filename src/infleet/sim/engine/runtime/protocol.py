"""The OpenAI/vLLM wire format: request models and the exact response and SSE chunk shapes.

The HTTP app parses bodies with these models and builds responses with the encoders. Unknown fields
are accepted, as vLLM does; known ones are checked strictly (no "10" for an integer, no "yes" for a
boolean) and within vLLM's ranges (temperature >= 0, top_p in (0, 1], penalties in [-2, 2], ...), so
a bad parameter is a 400 naming the field rather than a silently different request. Content chunks
are the hot path of streaming, so each stream pre-encodes the bytes around its delta text once and
only the text is serialised per chunk.
"""

from __future__ import annotations

import base64
import os
import random
import struct
import time
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from infleet.sim.engine.model.sampling import SamplingParams
from infleet.sim.engine.model.tokenizer import VOCAB_SIZE

DONE = b"data: [DONE]\n\n"


# The roles vLLM's chat template accepts.
ROLES = frozenset(("system", "developer", "user", "assistant", "tool", "function"))
_STRICT = ConfigDict(extra="allow", strict=True)


class StreamOptions(BaseModel):
    model_config = _STRICT

    include_usage: bool = False
    continuous_usage_stats: bool = False


class ResponseFormat(BaseModel):
    model_config = _STRICT

    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: dict[str, Any] | None = None


class _Common(BaseModel):
    model_config = _STRICT

    model: str | None = None
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=-1)
    min_p: float | None = Field(default=None, ge=0, le=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    repetition_penalty: float | None = Field(default=None, gt=0, le=2)
    n: int = Field(default=1, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    ignore_eos: bool = False
    min_tokens: int = Field(default=0, ge=0)
    cache_salt: str | None = None
    request_id: str | None = None

    def stops(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


class ChatCompletionRequest(_Common):
    messages: list[dict[str, Any]] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    response_format: ResponseFormat | None = None
    add_generation_prompt: bool = True

    @field_validator("messages")
    @classmethod
    def _known_roles(cls, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, message in enumerate(messages):
            role = message.get("role")
            if role not in ROLES:
                raise ValueError(f"messages[{index}].role {role!r} is not one of {', '.join(sorted(ROLES))}")
            content = message.get("content")
            if content is not None and not isinstance(content, str | list):
                raise ValueError(f"messages[{index}].content must be a string, a list of parts or null")
        return messages

    def sampling(self) -> SamplingParams:
        fmt = self.response_format
        schema: dict[str, Any] | None = None
        if fmt is not None and fmt.type == "json_schema" and fmt.json_schema is not None:
            inner = fmt.json_schema.get("schema")
            schema = inner if isinstance(inner, dict) else fmt.json_schema
        return SamplingParams(
            max_tokens=self.max_completion_tokens
            if self.max_completion_tokens is not None
            else self.max_tokens,
            stop=self.stops(),
            seed=self.seed,
            ignore_eos=self.ignore_eos,
            min_tokens=self.min_tokens,
            json_mode=fmt is not None and fmt.type == "json_object",
            json_schema=schema,
            cache_salt=self.cache_salt,
        )


class CompletionRequest(_Common):
    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int | None = Field(default=16, ge=1)  # the completions API defaults to 16, as OpenAI's
    echo: bool = False
    logprobs: int | None = Field(default=None, ge=0, le=20)

    @field_validator("prompt")
    @classmethod
    def _not_empty(
        cls, prompt: str | list[str] | list[int] | list[list[int]]
    ) -> str | list[str] | list[int] | list[list[int]]:
        check_prompt(prompt)
        return prompt

    def prompts(self) -> list[str | list[int]]:
        return split_inputs(self.prompt)

    def sampling(self) -> SamplingParams:
        return SamplingParams(
            max_tokens=self.max_tokens,
            stop=self.stops(),
            seed=self.seed,
            ignore_eos=self.ignore_eos,
            min_tokens=self.min_tokens,
            cache_salt=self.cache_salt,
        )


class EmbeddingRequest(BaseModel):
    model_config = _STRICT

    model: str | None = None
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)

    @field_validator("input")
    @classmethod
    def _not_empty(
        cls, value: str | list[str] | list[int] | list[list[int]]
    ) -> str | list[str] | list[int] | list[list[int]]:
        check_prompt(value)
        return value


def check_prompt(value: str | list[str] | list[int] | list[list[int]]) -> None:
    """vLLM refuses an empty prompt, an empty batch and token ids outside the vocabulary."""
    if isinstance(value, str):
        if not value:
            raise ValueError("the prompt cannot be empty")
        return
    if not value:
        raise ValueError("the prompt cannot be empty: send a string, a list of strings or token ids")
    for item in value:
        if item == "" or item == []:
            raise ValueError("the prompt cannot be empty")
        for token in (item,) if isinstance(item, int) else item if isinstance(item, list) else ():
            if not 0 <= token < VOCAB_SIZE:
                raise ValueError(f"token id {token} is out of vocabulary (0 to {VOCAB_SIZE - 1})")


def split_inputs(value: str | list[str] | list[int] | list[list[int]]) -> list[str | list[int]]:
    """One entry per prompt: a text, or a list of token ids (a flat id list is one prompt)."""
    if isinstance(value, str):
        return [value]
    out: list[str | list[int]] = []
    flat: list[int] = []
    for item in value:
        if isinstance(item, int):
            flat.append(item)
        elif isinstance(item, str):
            out.append(item)
        else:
            out.append([int(t) for t in item])
    return [flat] if flat else out


_ids = random.Random()  # seeded from the OS once; ids need to be unique, not unpredictable
os.register_at_fork(after_in_child=_ids.seed)  # a forked process must not repeat its parent's ids


def new_id(prefix: str) -> str:
    """vLLM's form (``prefix-`` and 32 hex digits of a random UUID); from ``random``, not ``uuid4``, which
    reads the OS's entropy pool with a system call per id."""
    return f"{prefix}-{_ids.getrandbits(128):032x}"


def now_s() -> int:
    return int(time.time())


def usage(prompt: int, completion: int, cached: int | None = None) -> dict[str, Any]:
    """vLLM's usage object. ``cached`` is the prompt tokens served from the prefix cache, given only
    under ``--enable-prompt-tokens-details``; like vLLM, a count of 0 is reported as null details."""
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached} if cached else None,
    }


def chat_response(
    rid: str, created: int, model: str, choices: list[dict[str, Any]], use: dict[str, Any]
) -> bytes:
    return orjson.dumps(
        {
            "id": rid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": choices,
            "usage": use,
            "system_fingerprint": None,
            "prompt_logprobs": None,
            "kv_transfer_params": None,
        }
    )


def chat_choice(index: int, text: str, finish_reason: str, stop_reason: str | None) -> dict[str, Any]:
    return {
        "index": index,
        "message": {"role": "assistant", "content": text, "reasoning": None, "tool_calls": []},
        "logprobs": None,
        "finish_reason": finish_reason,
        "stop_reason": stop_reason,
    }


def completion_response(
    rid: str, created: int, model: str, choices: list[dict[str, Any]], use: dict[str, Any]
) -> bytes:
    return orjson.dumps(
        {
            "id": rid,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": choices,
            "usage": use,
            "system_fingerprint": None,
            "kv_transfer_params": None,
        }
    )


def completion_choice(index: int, text: str, finish_reason: str, stop_reason: str | None) -> dict[str, Any]:
    return {
        "index": index,
        "text": text,
        "logprobs": None,
        "finish_reason": finish_reason,
        "stop_reason": stop_reason,
        "prompt_logprobs": None,
    }


def sse(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


class ChunkEncoder:
    """SSE chunks of one streamed response (chat or completion); the same ``id`` on every chunk."""

    def __init__(self, kind: Literal["chat", "completion"], model: str, include_usage: bool) -> None:
        self.kind = kind
        self.id = new_id("chatcmpl" if kind == "chat" else "cmpl")
        self.created = now_s()
        self.model = model
        self.include_usage = include_usage
        self.object = "chat.completion.chunk" if kind == "chat" else "text_completion"
        head = orjson.dumps({"id": self.id, "object": self.object, "created": self.created, "model": model})[
            :-1
        ]
        usage_tail = b',"usage":null' if include_usage else b""
        if kind == "chat":
            self._pre = b"data: " + head + b',"choices":[{"index":0,"delta":{"content":'
            self._post = b'},"logprobs":null,"finish_reason":null}]' + usage_tail + b"}\n\n"
        else:
            self._pre = b"data: " + head + b',"choices":[{"index":0,"text":'
            self._post = b',"logprobs":null,"finish_reason":null,"stop_reason":null}]' + usage_tail + b"}\n\n"

    def _base(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "object": self.object,
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.include_usage:
            out["usage"] = None
        return out

    def role(self) -> bytes:
        """The chat stream's first chunk: the assistant role with empty content."""
        return sse(
            self._base(
                [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": ""},
                        "logprobs": None,
                        "finish_reason": None,
                    }
                ]
            )
        )

    def content(self, text: str) -> bytes:
        return self._pre + orjson.dumps(text) + self._post

    def final(self, text: str, finish_reason: str, stop_reason: str | None) -> bytes:
        if self.kind == "chat":
            delta = {"content": text} if text else {}
            choice = {
                "index": 0,
                "delta": delta,
                "logprobs": None,
                "finish_reason": finish_reason,
                "stop_reason": stop_reason,
            }
        else:
            choice = {
                "index": 0,
                "text": text,
                "logprobs": None,
                "finish_reason": finish_reason,
                "stop_reason": stop_reason,
            }
        return sse(self._base([choice]))

    def usage(self, prompt: int, completion: int, cached: int | None = None) -> bytes:
        return sse(
            {
                "id": self.id,
                "object": self.object,
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage(prompt, completion, cached),
            }
        )


def embedding_vector(seed: int, dims: int) -> list[float]:
    """A deterministic unit vector (a cheap LCG: no need for cryptographic or numpy randomness)."""
    state = seed & 0xFFFFFFFF or 1
    values: list[float] = []
    for _ in range(dims):
        state = (1103515245 * state + 12345) & 0x7FFFFFFF
        values.append(state / 0x7FFFFFFF - 0.5)
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return [v / norm for v in values]


def encode_embedding(values: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
    return values
