"""Routing scorers, each normalized to [0, 1] (1 is best): outstanding requests, expected time to first
token (learned prefill speed x uncached prompt bytes ahead), engine queue and KV-cache usage from
scraped metrics, prefix-cache affinity (sticky until saturated), locality, cost.
"""

from __future__ import annotations

from collections.abc import Sequence

from infleet.scheduling.routing.endpoint import Endpoint, RoutingRequest, SaturationPolicy
from infleet.scheduling.routing.prefill_work import uncached_prompt_bytes
from infleet.scheduling.routing.prefix import PrefixIndex


def _lower_is_better(values: Sequence[float]) -> list[float]:
    """Min-max normalization as GIE's queue scorer: the lowest scores 1, the highest 0, all 1 if equal."""
    lo = min(values)
    span = max(values) - lo
    if span <= 0:
        return [1.0] * len(values)
    return [(span - (v - lo)) / span for v in values]


class OutstandingScorer:
    """Requests this gateway has in flight to the replica: exact and instant, unlike scraped metrics."""

    name = "outstanding"

    def score(self, request: RoutingRequest, candidates: Sequence[Endpoint]) -> list[float]:
        return _lower_is_better([c.outstanding for c in candidates])


class ExpectedTTFTScorer:
    """The time to first token a replica would likely give: its learned first-token line (a fixed part
    plus seconds per uncached prompt byte, see ttft_fit) at the bytes it would prefill before this
    request's first token (this gateway's requests waiting there, plus this one less what the prefix
    index says the replica has cached). Scored (fastest + slack) / (this + slack): a replica twice as
    slow scores about half, so speed counts where counts of requests alone miss it on mixed GPUs;
    `slack` keeps differences of a few milliseconds (noise between equal replicas) from herding traffic
    onto one. A replica with nothing learned yet, or nothing for `forget_after` seconds, counts as the
    mean of the others: an estimate taken in a bad moment (a cold cache, a burst) would otherwise keep
    the replica idle, and an idle replica never gets the request that would correct it. The network
    round trip is added apart (measured by the scrapes, see round_trip) and is never forgotten: a replica
    in another region counts as the others' mean engine plus its own distance, so forgetting does not
    turn into a stream of requests sent across the world to relearn what the scrapes already know.

    Learning per uncached byte, not per request, is what lets a replica that mostly serves cached
    prompts (fast first tokens) still be judged right for a cold one, and the reverse; the fixed part
    is what tells a long decode step (every request there waits for it) from slow prefill."""

    name = "expected-ttft"
    needs_prompt_hashes = True

    def __init__(
        self,
        slack: float,
        index: PrefixIndex | None = None,
        forget_after: float = 10.0,
        displacement_horizon: float = 0.0,
    ) -> None:
        self._slack = slack
        self._index = index
        self._forget_after = forget_after
        self._horizon = displacement_horizon

    def score(self, request: RoutingRequest, candidates: Sequence[Endpoint]) -> list[float]:
        index, prefix, size = self._index, request.prefix, request.prompt_bytes
        work = request.prefill_work
        displaced: dict[str, float] = {}
        for c in candidates:
            cached = index.matched(c.name, prefix) if index is not None and prefix else 0
            work[c.name] = uncached_prompt_bytes(size, cached)
            if index is not None and self._horizon > 0.0:
                displaced[c.name] = self._displaced_bytes(index, c, work[c.name], request.now)
        oldest = request.now - self._forget_after
        fresh = [
            (c.prefill_seconds_per_kb > 0.0 or c.first_token_fixed_seconds > 0.0)
            and c.first_token_learned_at >= oldest
            for c in candidates
        ]
        known = [c for c, ok in zip(candidates, fresh, strict=True) if ok]
        if not known:
            return [1.0] * len(candidates)
        neutral_slope = sum(c.prefill_seconds_per_kb for c in known) / len(known)
        neutral_fixed = sum(c.first_token_fixed_seconds for c in known) / len(known)
        slack = self._slack
        expected = []
        for c, ok in zip(candidates, fresh, strict=True):
            kb = (c.prefill_backlog + work[c.name] + displaced.get(c.name, 0.0)) / 1000.0
            fixed, slope = (
                (c.first_token_fixed_seconds, c.prefill_seconds_per_kb)
                if ok
                else (neutral_fixed, neutral_slope)
            )
            expected.append(c.network_seconds + fixed + slope * kb + slack)
        best = min(expected)
        return [best / e if e > 0.0 else 1.0 for e in expected]

    def _displaced_bytes(self, index: PrefixIndex, c: Endpoint, work: float, now: float) -> float:
        """Prompt bytes a replica is likely to prefill again because this request evicts them: what
        it adds to a full cache pushes out as much of the least recently routed there, counted in full
        while that was sent there within the horizon. A small cache that serves more prefixes than it
        holds turns over within seconds, and every cold prompt placed there costs another prefix its
        next hit; priced by its cold prefill alone, the fastest replica looks cheapest and keeps
        thrashing. Opt-in (`displacement_horizon`): in `benchmarks/routing.py`'s shared-prefix runs it
        brought the p90 to 0.11-0.15 s in two of four runs (0.43-0.57 s in four without); on
        `global_routing.py`'s multi-turn conversations it did not help (p90 0.129 s against 0.099 s
        at 10 req/s), so it stays off by default."""
        age = index.eviction_age(c.name, c.kv_capacity_tokens, now)
        if age is None or age >= self._horizon:
            return 0.0
        return work


class QueueScorer:
    """Engine waiting queue; a replica with stale metrics scores as the worst."""

    name = "queue"

    def __init__(self, stale_after: float) -> None:
        self._stale_after = stale_after

    def score(self, request: RoutingRequest, candidates: Sequence[Endpoint]) -> list[float]:
        now = request.now
        fresh = [now - c.metrics_time <= self._stale_after for c in candidates]
        waiting = [c.waiting for c in candidates]
        # Unknown load ranks below every known load, but stale replicas still tie among themselves.
        worst = max((w for w, ok in zip(waiting, fresh, strict=True) if ok), default=0.0) + 1.0
        return _lower_is_better([w if ok else worst for w, ok in zip(waiting, fresh, strict=True)])


class KVCacheScorer:
    name = "kv-cache"

    def __init__(self, stale_after: float) -> None:
        self._stale_after = stale_after

    def score(self, request: RoutingRequest, candidates: Sequence[Endpoint]) -> list[float]:
        now = request.now
        return [
            1.0 - min(1.0, max(0.0, c.kv_usage)) if now - c.metrics_time <= self._stale_after else 0.0
            for c in candidates
        ]


class PrefixCacheScorer:
    """Fraction of the prompt's leading blocks the replica has likely cached; 0 once it saturates, so
    load scorers spread a hot prefix instead of piling onto one replica (sticky until saturated)."""

    name = "prefix-cache"
    needs_prompt_hashes = True

    def __init__(self, index: PrefixIndex, saturation: SaturationPolicy) -> None:
        self.index = index
        self._saturation = saturation

    def score(self, request: RoutingRequest, candidates: Sequence[Endpoint]) -> list[float]:
        n = len(request.prefix)
        if n == 0:
            return [0.0] * len(candidates)
        now = request.now
        return [
            0.0 if self._saturation.saturated(c, now) else self.index.matched(c.name, request.prefix) / n
            for c in candidates
        ]

    def reserve(self, request: RoutingRequest, candidate: Endpoint) -> None:
        if request.prefix:
            request.cache_claim = self.index.record(
                candidate.name,
                request.prefix,
                request.prompt_bytes,
                candidate.kv_capacity_tokens,
                request.now,
            )


class LocalityScorer:
    """1 in the request's region (header) or else the gateway's own region, 0 elsewhere."""

    name = "locality"

    def __init__(self, home_region: str) -> None:
        self._home = home_region

    def score(self, request: RoutingRequest, candidates: Sequence[Endpoint]) -> list[float]:
        region = request.region or self._home
        if not region:
            return [1.0] * len(candidates)
        return [1.0 if c.region == region else 0.0 for c in candidates]


class CostScorer:
    name = "cost"

    def score(self, request: RoutingRequest, candidates: Sequence[Endpoint]) -> list[float]:
        return _lower_is_better([c.cost for c in candidates])
