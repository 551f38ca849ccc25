"""The engine's OpenAPI document (``GET /openapi.json``, as ``vllm serve`` publishes one): the request
schemas are the pydantic models the app parses bodies with, so the document cannot drift from what
the engine accepts. Built once per process."""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from pydantic import BaseModel

from infleet.sim.engine.runtime.protocol import ChatCompletionRequest, CompletionRequest, EmbeddingRequest

_REF = "#/components/schemas/{model}"
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": "integer"},
            },
        }
    },
}


def _json_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}


def _errors() -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
    return {
        "400": {"description": "a parameter vLLM refuses", **error},
        "404": {"description": "unknown model", **error},
        "413": {"description": "body over the limit", **error},
        "429": {"description": "too many requests waiting", **error},
    }


def _inference(model: type[BaseModel], summary: str, schemas: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF)
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {
        "post": {
            "operationId": model.__name__[0].lower() + model.__name__[1:].removesuffix("Request"),
            "summary": summary,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}},
            },
            "responses": {
                "200": _json_response("the completion, or an SSE stream when stream is true"),
                **_errors(),
            },
        }
    }


def _plain(operation_id: str, summary: str, media: str = "application/json") -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "responses": {"200": {"description": summary, "content": {media: {"schema": {}}}}},
        }
    }


@cache
def openapi_document() -> bytes:
    schemas: dict[str, Any] = {"ErrorResponse": _ERROR}
    paths = {
        "/v1/chat/completions": _inference(ChatCompletionRequest, "chat completion", schemas),
        "/v1/completions": _inference(CompletionRequest, "text completion", schemas),
        "/v1/embeddings": _inference(EmbeddingRequest, "embeddings", schemas),
        "/v1/models": _plain("listModels", "the served model"),
        "/health": _plain("health", "200 while the engine serves", "text/plain"),
        "/version": _plain("version", "the engine version"),
        "/load": _plain("load", "requests in flight"),
        "/metrics": _plain("metrics", "Prometheus metrics", "text/plain"),
    }
    document = {
        "openapi": "3.1.0",
        "info": {"title": "infleet simulated vLLM engine", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
    return orjson.dumps(document)
