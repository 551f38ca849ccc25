"""The gateway's OpenAPI document (``GET /openapi.json``): its OpenAI-compatible paths, its own
endpoints and the bearer-key scheme.

The request schemas are written out here rather than generated: the gateway reads only ``model``
(and ``stream``) and passes the rest of a body through unchanged, so the document names the fields
every OpenAI client sends and leaves the others open, as the engines behind it decide them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "integer", "null"]},
            },
        }
    },
}
_MESSAGE = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {"type": ["string", "array", "null"]},
    },
}
_COMMON = {
    "model": {"type": "string", "minLength": 1, "description": "a model or alias the gateway serves"},
    "stream": {"type": "boolean"},
    "max_tokens": {"type": "integer", "minimum": 1},
    "temperature": {"type": "number", "minimum": 0, "maximum": 2},
}
_REQUESTS = {
    "ChatCompletionRequest": {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {**_COMMON, "messages": {"type": "array", "minItems": 1, "items": _MESSAGE}},
    },
    "CompletionRequest": {
        "type": "object",
        "required": ["model", "prompt"],
        "properties": {**_COMMON, "prompt": {"type": ["string", "array"]}},
    },
    "EmbeddingRequest": {
        "type": "object",
        "required": ["model", "input"],
        "properties": {"model": _COMMON["model"], "input": {"type": ["string", "array"]}},
    },
}
_GATEWAY_HEADERS = [
    {"name": "x-request-id", "in": "header", "schema": {"type": "string"}},
    {"name": "x-infleet-priority", "in": "header", "schema": {"enum": ["critical", "standard", "sheddable"]}},
    {"name": "x-infleet-region", "in": "header", "schema": {"type": "string"}},
]


def _error_responses() -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
    return {
        code: {"description": description, **error}
        for code, description in (
            ("400", "malformed request"),
            ("401", "missing or unknown key"),
            ("403", "the key may not use the model"),
            ("404", "unknown model"),
            ("408", "the body did not arrive in time"),
            ("413", "body over the limit"),
            ("429", "rate limited or shed; see Retry-After"),
            ("502", "no upstream answered"),
            ("503", "no replica can serve now; see Retry-After"),
            ("504", "the upstream timed out"),
        )
    }


def _inference(name: str, summary: str) -> dict[str, Any]:
    return {
        "post": {
            "operationId": name[0].lower() + name[1:].removesuffix("Request"),
            "summary": summary,
            "parameters": _GATEWAY_HEADERS,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
            },
            "responses": {
                "200": {
                    "description": "the upstream's answer, or its SSE stream",
                    "content": {"application/json": {}},
                },
                **_error_responses(),
            },
        }
    }


def _get(operation_id: str, summary: str, secured: bool = False) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "responses": {"200": {"description": summary}, **_error_responses()},
    }
    if not secured:
        operation["security"] = []
    return {"get": operation}


@cache
def openapi_document() -> bytes:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "infleet gateway", "version": "1"},
        "security": [{"bearer": []}],
        "paths": {
            "/v1/chat/completions": _inference("ChatCompletionRequest", "chat completion"),
            "/v1/completions": _inference("CompletionRequest", "text completion"),
            "/v1/embeddings": _inference("EmbeddingRequest", "embeddings"),
            "/v1/models": _get("listModels", "the models this key may use", secured=True),
            "/health/liveness": _get("liveness", "the process runs"),
            "/health/readiness": _get("readiness", "a replica can take a request"),
            "/metrics": _get("metrics", "Prometheus metrics"),
        },
        "components": {
            "schemas": {"ErrorResponse": _ERROR, **_REQUESTS},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    return orjson.dumps(document)
