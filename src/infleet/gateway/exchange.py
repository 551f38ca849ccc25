"""One inference request on its way through the proxy (`Exchange`), and how an attempt at it ends:
an `Outcome` once an answer went to the client, or a `Failure` that may be retried elsewhere.
Built by the proxy per request; read by the retry policy and the upstream call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from infleet.gateway.auth import Principal
from infleet.gateway.model_rename import ModelRename
from infleet.gateway.request_body import RequestBody
from infleet.gateway.routing_table import ModelRoute, RoutingTable
from infleet.gateway.transport import Headers
from infleet.scheduling.routing import CacheClaim

Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(slots=True)
class Exchange:
    """What every attempt at one request shares, and the retry state the attempts leave behind."""

    request_id: str
    request_id_header: tuple[bytes, bytes]
    principal: Principal
    priority: str  # critical, standard or sheddable
    region: str | None  # the client's preferred region, from x-infleet-region
    path: str  # the upstream path, e.g. /v1/chat/completions
    body: RequestBody
    route: ModelRoute  # the model asked for; fallbacks are looked up in `table`
    table: RoutingTable  # the snapshot the request started with
    started: float  # clock reading once the whole body arrived
    send: Send
    adapter: str | None = None  # the LoRA adapter asked for by its own model name
    deadline: float = 0.0  # loop.time() by which the answer must have ended
    attempts_left: int = 0
    tried: set[int] = field(default_factory=set)  # id() of every replica tried
    failure: Failure | None = None  # the last failed attempt, answered if no other succeeds
    rename: ModelRename | None = None  # the current attempt's served name -> the name asked for
    prefill_work: float = 0.0  # the current attempt's uncached prompt bytes (see prefill_work)
    cache_claim: CacheClaim | None = None  # what the prefix index believed the current attempt's replica held


@dataclass(slots=True)
class Failure:
    """An attempt that may be retried elsewhere, kept to answer with if it is the last one."""

    status: int
    message: str
    body: bytes = b""  # the upstream's own answer, relayed as it is when no attempt succeeds
    headers: Headers | None = None


@dataclass(slots=True)
class Outcome:
    """A request the client got an answer to, as metrics and the access log record it."""

    status: int
    backend: str
    usage: dict[str, Any] | None
    ttft: float | None
    overhead: float  # seconds the gateway itself spent, upstream time excluded
