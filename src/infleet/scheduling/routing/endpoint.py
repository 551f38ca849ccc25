"""What routing plugins see: the `Endpoint` protocol a replica satisfies, the `RoutingRequest` built
per request by the gateway, and the saturation rule shared by prefix stickiness and load shedding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from infleet.scheduling.routing.prefix import CacheClaim


class Endpoint(Protocol):
    """A model replica (or external provider) as routing plugins read it; the gateway owns the state."""

    @property
    def name(self) -> str: ...
    @property
    def models(self) -> frozenset[str]: ...
    @property
    def adapters(self) -> frozenset[str]: ...
    @property
    def region(self) -> str: ...
    @property
    def healthy(self) -> bool: ...
    @property
    def cooldown_until(self) -> float: ...
    @property
    def outstanding(self) -> int: ...
    @property
    def max_concurrency(self) -> int: ...  # 0 means no cap
    @property
    def waiting(self) -> float: ...  # vllm:num_requests_waiting, last scrape
    @property
    def kv_usage(self) -> float: ...  # vllm:kv_cache_usage_perc in [0, 1], last scrape
    @property
    def kv_capacity_tokens(self) -> int: ...  # KV-cache size in tokens (cache_config_info), 0 if unknown
    @property
    def metrics_time(self) -> float: ...  # monotonic time of the last good scrape, 0 if never
    @property
    def cost(self) -> float: ...  # relative cost, e.g. USD per GPU-hour
    # Uncached prompt bytes of this gateway's requests to the replica still waiting for their first byte
    # (see prefill_work).
    @property
    def prefill_backlog(self) -> float: ...
    # The learned first-token time at the engine (see ttft_fit): seconds per 1,000 uncached prompt bytes,
    # and the part no prompt shortens (the decode step a request joins); both 0 until known.
    @property
    def prefill_seconds_per_kb(self) -> float: ...
    @property
    def first_token_fixed_seconds(self) -> float: ...
    @property
    def first_token_learned_at(self) -> float: ...  # monotonic time of the newest sample
    # The network round trip to the replica (see round_trip), kept apart from the first-token line so a
    # forgotten line never forgets the distance; 0 if unknown (not scraped, or an external provider).
    @property
    def network_seconds(self) -> float: ...


@dataclass(slots=True)
class RoutingRequest:
    """One request as routing plugins see it. `prefix` holds chained block hashes of the prompt;
    `prefill_work` is filled while scoring (by expected-ttft) with the uncached prompt bytes each
    candidate would prefill, so the gateway charges the chosen replica what was estimated for it.
    `cache_claim` is set when a request is reserved on a replica: what the prefix index believed that
    replica held, for the caller to settle against the cached tokens the answer reports. `panic` is set
    when too few of the model's replicas pass health checks for them to be trusted: the healthy filter
    then keeps every replica (Envoy's panic threshold; the gateway decides)."""

    model: str
    now: float
    adapter: str | None = None
    region: str | None = None
    allowed_regions: frozenset[str] | None = None
    prefix: tuple[int, ...] = ()
    priority: str = "standard"
    prompt_bytes: int = 0
    prefill_work: dict[str, float] = field(default_factory=dict)
    cache_claim: CacheClaim | None = None
    panic: bool = False


@dataclass(frozen=True, slots=True)
class SaturationPolicy:
    """When a replica counts as saturated: GIE's per-pod rule (queue and KV thresholds) plus the
    gateway's own concurrency cap; stale engine metrics count as unknown, not as saturated."""

    queue_threshold: float = 5.0
    kv_threshold: float = 0.9
    stale_after: float = 2.0

    def saturated(self, endpoint: Endpoint, now: float) -> bool:
        cap = endpoint.max_concurrency
        if cap and endpoint.outstanding >= cap:
            return True
        if now - endpoint.metrics_time > self.stale_after:
            return False
        return endpoint.waiting >= self.queue_threshold or endpoint.kv_usage >= self.kv_threshold
