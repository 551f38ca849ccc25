"""A replica's live state as the gateway sees it: in-flight count, health, cooldown and the engine
load scraped from its /metrics. Satisfies `infleet.scheduling.routing.Endpoint`; shared by the router,
the health checker, the scraper and outlier detection. State survives config reloads (see routing_table).
"""

from __future__ import annotations

from collections.abc import Callable

from infleet.gateway.model_rename import model_field
from infleet.gateway.transport import Origin
from infleet.scheduling.routing.round_trip import RoundTrip
from infleet.scheduling.routing.ttft_fit import FirstTokenFit


class Replica:
    __slots__ = (
        "adapters",
        "auth_header",
        "cloud",
        "cluster",
        "consecutive_failures",
        "cooldown_until",
        "cost",
        "external",
        "first_token",
        "gpu",
        "health_failures",
        "health_successes",
        "healthy",
        "key",
        "kv_capacity_tokens",
        "kv_usage",
        "max_concurrency",
        "metrics_time",
        "model_field",
        "models",
        "name",
        "origin",
        "outstanding",
        "prefill_backlog",
        "region",
        "round_trip",
        "running",
        "unreachable",
        "upstream_model",
        "waiting",
    )

    def __init__(
        self,
        name: str,
        origin: Origin,
        upstream_model: str,
        models: frozenset[str],
        region: str = "",
        cluster: str = "",
        gpu: str = "",
        cost: float = 0.0,
        max_concurrency: int = 0,
        cloud: str = "",
        adapters: frozenset[str] = frozenset(),
        external: bool = False,
        api_key: str | None = None,
    ) -> None:
        self.name = name
        self.origin = origin
        self.upstream_model = upstream_model
        self.model_field = model_field(upstream_model)  # what answers name; see model_rename
        self.models = models
        self.region = region
        self.cluster = cluster
        self.cloud = cloud
        self.gpu = gpu
        self.cost = cost
        self.max_concurrency = max_concurrency
        self.adapters = adapters
        self.external = external
        self.auth_header: bytes | None = f"Bearer {api_key}".encode() if api_key else None
        # The identity that lets live state carry over a reload: same URL serving the same upstream model.
        self.key = (str(origin), upstream_model)
        self.healthy = True
        self.cooldown_until = 0.0
        self.unreachable = False  # cooling down because a connection was refused or timed out
        self.outstanding = 0
        self.prefill_backlog = 0.0
        self.first_token = FirstTokenFit()
        self.round_trip = RoundTrip()  # measured by the metrics scraper
        self.consecutive_failures = 0
        self.health_failures = 0
        self.health_successes = 0
        self.waiting = 0.0
        self.running = 0.0
        self.kv_usage = 0.0
        self.kv_capacity_tokens = 0  # from the engine's cache_config_info; 0 until scraped
        self.metrics_time = 0.0

    @property
    def prefill_seconds_per_kb(self) -> float:
        return self.first_token.seconds_per_kb

    @property
    def first_token_fixed_seconds(self) -> float:
        return self.first_token.fixed_seconds

    @property
    def first_token_learned_at(self) -> float:
        return self.first_token.learned_at

    @property
    def network_seconds(self) -> float:
        return self.round_trip.seconds

    def first_byte(self, ttft: float, ahead: float, work: float, now: float = 0.0) -> None:
        """A stream's first byte came `ttft` seconds after it was sent with `work` uncached prompt bytes,
        behind `ahead` bytes of this gateway's requests still waiting for theirs: fit the replica's first
        token time to all the work served first, so queueing stays out of the fit, a slow GPU looks slow
        and a busy fast one does not (its live backlog says it is busy). The network round trip is taken
        out: it is measured apart, and stays known when the fit is forgotten."""
        engine = max(0.0, ttft - self.round_trip.seconds)
        self.first_token.observe(engine, (ahead + work) / 1000.0, now)

    def routable(self, now: float) -> bool:
        """Whether the router may send this replica a request now."""
        return self.healthy and self.cooldown_until <= now

    def adopt_state(self, old: Replica) -> None:
        for attr in (
            "healthy",
            "cooldown_until",
            "unreachable",
            "outstanding",
            "prefill_backlog",
            "consecutive_failures",
            "health_failures",
            "health_successes",
            "waiting",
            "running",
            "kv_usage",
            "kv_capacity_tokens",
            "metrics_time",
        ):
            setattr(self, attr, getattr(old, attr))
        self.first_token.copy_from(old.first_token)
        self.round_trip.seconds = old.round_trip.seconds

    def __repr__(self) -> str:
        return (
            f"Replica({self.name!r}, {self.origin}, outstanding={self.outstanding}, healthy={self.healthy})"
        )


class PrefillTicket:
    """One attempt's place among a replica's requests waiting for their first byte: its uncached prompt
    bytes count in `prefill_backlog` from the send until the first byte (which teaches the replica's
    prefill speed) or the end."""

    __slots__ = ("_ahead", "_now", "_open", "_replica", "_sent_at", "_work")

    def __init__(self, replica: Replica, now: Callable[[], float], work: float) -> None:
        self._replica = replica
        self._now = now
        self._work = work
        self._ahead = replica.prefill_backlog
        self._sent_at = now()
        self._open = True
        replica.prefill_backlog += work

    def first_byte(self) -> None:
        if self._open:
            self.close()
            now = self._now()
            self._replica.first_byte(now - self._sent_at, self._ahead, self._work, now)

    def close(self) -> None:
        if self._open:
            self._open = False
            # Floating-point sums drift; an empty replica must read exactly empty.
            self._replica.prefill_backlog = max(0.0, self._replica.prefill_backlog - self._work)
