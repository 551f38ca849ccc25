"""Routing plugins and the built-in profiles over plain replica records."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from infleet.scheduling import Environment, PluginRef, Profile, ProfileSpec, RegistryError
from infleet.scheduling.routing import (
    BUILTIN_PROFILES,
    Endpoint,
    PrefixIndex,
    RoutingRequest,
    SaturationPolicy,
    build_routing_registry,
    prefix_blocks,
)
from infleet.scheduling.routing.prefill_work import PREFILL_FLOOR_BYTES


@dataclass
class Rep:
    name: str
    region: str = "us"
    models: frozenset[str] = frozenset({"m"})
    adapters: frozenset[str] = frozenset()
    healthy: bool = True
    cooldown_until: float = 0.0
    outstanding: int = 0
    max_concurrency: int = 0
    waiting: float = 0.0
    kv_usage: float = 0.0
    kv_capacity_tokens: int = 0
    metrics_time: float = 100.0
    cost: float = 1.0
    prefill_backlog: float = 0.0
    prefill_seconds_per_kb: float = 0.0
    first_token_fixed_seconds: float = 0.0
    first_token_learned_at: float = 100.0
    network_seconds: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)


def profile(name: str, region: str = "us") -> Profile[RoutingRequest, Endpoint]:
    registry = build_routing_registry(region, SaturationPolicy())
    return Profile.build(BUILTIN_PROFILES[name], registry, Environment(rng=random.Random(0)))


def req(**kw: object) -> RoutingRequest:
    base: dict[str, object] = {"model": "m", "now": 100.0}
    base.update(kw)
    return RoutingRequest(**base)  # type: ignore[arg-type]


def test_filters_reject_unhealthy_cooling_capped_and_foreign() -> None:
    reps = [
        Rep("sick", healthy=False),
        Rep("cool", cooldown_until=200.0),
        Rep("full", outstanding=2, max_concurrency=2),
        Rep("other-model", models=frozenset({"x"})),
        Rep("eu", region="eu"),
        Rep("ok"),
    ]
    decision = profile("least-outstanding").schedule(req(allowed_regions=frozenset({"us"})), reps)
    assert [r.name for r in decision.ranked] == ["ok"]
    plugins = {s.plugin for _, s in decision.rejected}
    assert plugins == {"healthy", "not-cooling-down", "below-concurrency-cap", "serves-model", "region-allow"}


def test_adapter_requests_go_to_replicas_with_the_adapter() -> None:
    reps = [Rep("plain"), Rep("lora", adapters=frozenset({"sql"}))]
    assert [r.name for r in profile("default").schedule(req(adapter="sql"), reps).ranked] == ["lora"]


def test_least_outstanding_orders_by_in_flight() -> None:
    reps = [Rep("a", outstanding=5), Rep("b", outstanding=1), Rep("c", outstanding=3)]
    assert [r.name for r in profile("least-outstanding").schedule(req(), reps).ranked] == ["b", "c", "a"]


def test_default_prefers_the_replica_that_holds_the_prefix_until_it_saturates() -> None:
    p = profile("default")
    reps = [Rep("a"), Rep("b")]
    prefix = (1, 2, 3, 4)
    first = p.schedule(req(prefix=prefix), reps).ranked[0]
    p.reserve(req(prefix=prefix), first)
    first_rep = next(r for r in reps if r.name == first.name)
    other = next(r for r in reps if r.name != first.name)
    first_rep.outstanding = 1  # a little busier, still preferred for its cache
    assert p.schedule(req(prefix=prefix), reps).ranked[0].name == first.name
    first_rep.waiting = 10  # saturated: stickiness ends, load decides
    assert p.schedule(req(prefix=prefix), reps).ranked[0].name == other.name


def test_stale_engine_metrics_count_as_worst_queue() -> None:
    reps = [Rep("fresh", waiting=3), Rep("stale", waiting=0, metrics_time=0.0)]
    ranked = profile("power-of-two").schedule(req(), reps).ranked
    assert ranked[0].name == "fresh"


def test_locality_prefers_request_region_then_home_region() -> None:
    reps = [Rep("us1", region="us"), Rep("eu1", region="eu")]
    p = profile("load", region="us")
    assert p.schedule(req(), reps).ranked[0].name == "us1"
    assert p.schedule(req(region="eu"), reps).ranked[0].name == "eu1"


def expected_ttft(**args: object) -> Profile[RoutingRequest, Endpoint]:
    spec = ProfileSpec(name="ttft", scorers=[PluginRef(name="expected-ttft", args=args)])
    return Profile.build(spec, build_routing_registry(), Environment(rng=random.Random(0)))


def test_expected_ttft_weighs_speed_against_work_ahead() -> None:
    fast, slow = Rep("h100", prefill_seconds_per_kb=0.1), Rep("l4", prefill_seconds_per_kb=0.35)
    p = expected_ttft()
    four_kb = req(prompt_bytes=4000)
    assert p.schedule(four_kb, [slow, fast]).ranked[0].name == "h100"
    fast.prefill_backlog = 8000.0  # 12 kB x 0.1 s still beats 4 kB x 0.35 s
    assert p.schedule(req(prompt_bytes=4000), [slow, fast]).ranked[0].name == "h100"
    fast.prefill_backlog = 12000.0  # 16 kB x 0.1 s does not
    assert p.schedule(req(prompt_bytes=4000), [slow, fast]).ranked[0].name == "l4"


def test_expected_ttft_counts_the_step_every_first_token_waits_for() -> None:
    # Alike in prefill speed, but every first token on the L4 group waits for a 0.1 s decode step.
    fast = Rep("h100", prefill_seconds_per_kb=0.03, first_token_fixed_seconds=0.02)
    slow = Rep("l4", prefill_seconds_per_kb=0.03, first_token_fixed_seconds=0.1)
    scorer = expected_ttft(slack=0.0).scorers[0][0]
    # A short (cached) turn: 0.05 s against 0.13 s.
    assert scorer.score(req(prompt_bytes=500), [fast, slow]) == pytest.approx([1.0, 0.05 / 0.13], rel=0.02)
    # Queued work on the fast one eventually outweighs the slow one's step: 0.02 + 0.03 x 6 > 0.13.
    fast.prefill_backlog = 5000.0
    assert scorer.score(req(prompt_bytes=500), [fast, slow])[0] < 1.0
    # A replica with nothing learned counts as the mean line of the others.
    new = Rep("new")
    scores = scorer.score(
        req(prompt_bytes=1000), [Rep("a", prefill_seconds_per_kb=0.02, first_token_fixed_seconds=0.1), new]
    )
    assert scores == pytest.approx([1.0, 1.0])


def test_expected_ttft_forgets_an_estimate_nothing_has_refreshed() -> None:
    # One slow first token long ago (a cold cache, a burst) must not keep a replica idle for good.
    scorer = expected_ttft(slack=0.0, forget_after=10.0).scorers[0][0]
    fresh = Rep("fresh", prefill_seconds_per_kb=0.1, first_token_learned_at=95.0)
    stale = Rep("stale", prefill_seconds_per_kb=0.9, first_token_learned_at=80.0)
    assert scorer.score(req(prompt_bytes=2000), [fresh, stale]) == [1.0, 1.0]  # stale counts as the mean
    stale.first_token_learned_at = 92.0
    assert scorer.score(req(prompt_bytes=2000), [fresh, stale])[1] == pytest.approx(1 / 9)


def test_expected_ttft_keeps_the_round_trip_of_a_forgotten_replica() -> None:
    # A remote replica unused for a while: its engine line is forgotten, its distance is not.
    scorer = expected_ttft(slack=0.0, forget_after=10.0).scorers[0][0]
    home = Rep("home", first_token_fixed_seconds=0.1, network_seconds=0.001)
    remote = Rep("remote", first_token_fixed_seconds=0.02, network_seconds=0.2, first_token_learned_at=80.0)
    # Counted as the home engine's 0.1 s plus its own 0.2 s round trip, not as the home replica's twin.
    assert scorer.score(req(), [home, remote]) == pytest.approx([1.0, 0.101 / 0.3], rel=0.01)
    # Refreshed, its own fast engine counts, and the round trip still does.
    remote.first_token_learned_at = 95.0
    assert scorer.score(req(), [home, remote]) == pytest.approx([1.0, 0.101 / 0.22], rel=0.01)


def test_expected_ttft_discounts_the_prompt_a_replica_has_cached() -> None:
    p = profile("default")
    prompt = b"x" * 8192
    hashes = prefix_blocks(prompt)
    holder, cold = Rep("holder", prefill_seconds_per_kb=0.2), Rep("cold", prefill_seconds_per_kb=0.1)
    p.reserve(req(prefix=hashes, prompt_bytes=len(prompt)), holder)  # the holder served this prompt
    scorer = dict((s.name, s) for s, _ in p.scorers)["expected-ttft"]
    request = req(prefix=hashes, prompt_bytes=len(prompt))
    scores = scorer.score(request, [holder, cold])
    # The holder prefills only the floor (1 kB at 0.2 s) against 8 kB cold at 0.1 s: it is faster.
    assert scores[0] == 1.0 > scores[1]
    assert request.prefill_work == {"holder": PREFILL_FLOOR_BYTES, "cold": 8192.0}


def displacing(horizon: float) -> Profile[RoutingRequest, Endpoint]:
    spec = ProfileSpec(
        name="displacing",
        scorers=[
            PluginRef(name="expected-ttft", args={"displacement_horizon": horizon}),
            PluginRef(name="prefix-cache"),
        ],
    )
    return Profile.build(spec, build_routing_registry(), Environment(rng=random.Random(0)))


def test_a_cold_prompt_pays_for_the_prefix_it_would_evict_from_a_full_cache() -> None:
    # A fast replica whose small cache is full of prefixes used a second ago, and a slower one with room.
    p = displacing(30.0)
    small = Rep("h100", prefill_seconds_per_kb=0.1, kv_capacity_tokens=4096)  # 32 blocks of 512 bytes
    roomy = Rep("l40s", prefill_seconds_per_kb=0.15, kv_capacity_tokens=1_000_000)
    for tag in (b"a", b"b"):
        prompt = tag * 8192
        p.reserve(req(prefix=prefix_blocks(prompt), prompt_bytes=len(prompt), now=99.0), small)
    scorer = dict((s.name, s) for s, _ in p.scorers)["expected-ttft"]
    cold = b"c" * 8192
    request = req(prefix=prefix_blocks(cold), prompt_bytes=len(cold), now=100.0)
    # Cold on the H100: 8.2 kB x 0.1 s, plus the 8.2 kB it evicts (sent there 1 s ago, within the
    # horizon); cold on the L40S: 8.2 kB x 0.15 s. The L40S is cheaper, and the H100 keeps its prefixes.
    scores = scorer.score(request, [small, roomy])
    assert scores[1] == 1.0 > scores[0]
    assert request.prefill_work == {"h100": 8192.0, "l40s": 8192.0}  # what is charged stays the prompt
    # What the H100 would evict has not been used for the horizon: nothing to pay, the H100 wins.
    later = req(prefix=prefix_blocks(cold), prompt_bytes=len(cold), now=130.0)
    assert scorer.score(later, [small, roomy])[0] == 1.0


def test_the_displacement_charge_is_off_by_default() -> None:
    p = profile("default")
    small = Rep("h100", prefill_seconds_per_kb=0.1, kv_capacity_tokens=4096)
    roomy = Rep("l40s", prefill_seconds_per_kb=0.15, kv_capacity_tokens=1_000_000)
    for tag in (b"a", b"b"):
        prompt = tag * 8192
        p.reserve(req(prefix=prefix_blocks(prompt), prompt_bytes=len(prompt), now=99.0), small)
    cold = b"c" * 8192
    scorer = dict((s.name, s) for s, _ in p.scorers)["expected-ttft"]
    assert scorer.score(req(prefix=prefix_blocks(cold), prompt_bytes=len(cold)), [small, roomy])[0] == 1.0


def test_expected_ttft_scores_by_ratio_with_slack_and_tries_unknown_replicas() -> None:
    scorer = expected_ttft(slack=0.0).scorers[0][0]
    reps = [Rep("a", prefill_seconds_per_kb=0.2), Rep("b", prefill_seconds_per_kb=0.4), Rep("new")]
    assert scorer.score(req(), reps) == pytest.approx([1.0, 0.5, 2 / 3])  # "new" counts as the mean, 0.3
    assert scorer.score(req(), [Rep("x"), Rep("y")]) == [1.0, 1.0]
    # Milliseconds apart: the default slack keeps equal replicas close instead of herding onto one.
    close = [Rep("c", prefill_seconds_per_kb=0.005), Rep("d", prefill_seconds_per_kb=0.008)]
    assert expected_ttft().scorers[0][0].score(req(), close)[1] > 0.9
    with pytest.raises(RegistryError, match="slack"):
        expected_ttft(slack=-1)


def test_default_sends_the_home_region_to_a_much_faster_remote_replica() -> None:
    local = Rep("ap-l4", region="ap", prefill_seconds_per_kb=0.35)
    remote = Rep("us-h100", region="us", prefill_seconds_per_kb=0.12)
    p = profile("default", region="")
    assert p.schedule(req(region="ap", prompt_bytes=4000), [local, remote]).ranked[0].name == "us-h100"
    # Alike in speed, the home region wins.
    remote.prefill_seconds_per_kb = 0.3
    assert p.schedule(req(region="ap", prompt_bytes=4000), [local, remote]).ranked[0].name == "ap-l4"


def test_default_keeps_a_request_home_over_one_request_fewer_elsewhere() -> None:
    # Alike in speed; the remote one has one request fewer in flight. A count of requests is not time:
    # crossing regions for it would cost a round trip and gain nothing measurable.
    local = Rep("ap-l4", region="ap", outstanding=3, prefill_seconds_per_kb=0.1)
    remote = Rep("us-l4", region="us", outstanding=2, prefill_seconds_per_kb=0.1)
    p = profile("default", region="")
    for _ in range(5):
        assert p.schedule(req(region="ap", prompt_bytes=2000), [remote, local]).ranked[0].name == "ap-l4"


def test_default_does_not_send_requests_across_the_world_to_relearn_a_remote_replica() -> None:
    # The local L4 group has prefills queued; the remote H100 has been unused long enough that its line
    # is forgotten. Without its distance it would count as the local line with nothing queued and win.
    local = Rep("ap-l4", region="ap", first_token_fixed_seconds=0.12, prefill_seconds_per_kb=0.05)
    local.prefill_backlog = 4000.0
    remote = Rep("us-h100", region="us", first_token_learned_at=80.0, network_seconds=0.21)
    p = profile("default", region="")
    assert p.schedule(req(region="ap", prompt_bytes=2000), [remote, local]).ranked[0].name == "ap-l4"
    remote.network_seconds = 0.0  # the same replica next door would be worth the trip
    assert p.schedule(req(region="ap", prompt_bytes=2000), [remote, local]).ranked[0].name == "us-h100"


def nearest_only(home: str = "us", **args: object) -> Profile[RoutingRequest, Endpoint]:
    spec = ProfileSpec(
        name="nearest",
        filters=[PluginRef(name="region-allow", args=args)],
        scorers=[PluginRef(name="outstanding")],
    )
    return Profile.build(spec, build_routing_registry(home), Environment(rng=random.Random(0)))


def test_region_filter_keeps_only_the_request_region_when_asked() -> None:
    reps = [Rep("us1", region="us", outstanding=9), Rep("eu1", region="eu"), Rep("ap1", region="ap")]
    p = nearest_only(request_region_only=True)
    assert [r.name for r in p.schedule(req(region="eu"), reps).ranked] == ["eu1"]
    # No header: the gateway's own region, however busy its replicas are.
    assert [r.name for r in p.schedule(req(), reps).ranked] == ["us1"]
    assert p.schedule(req(region="sa"), reps).ranked == []
    # Without a region anywhere nothing is restricted; the fixed allow-list still applies.
    assert len(nearest_only(home="").schedule(req(), reps).ranked) == 3
    both = nearest_only(request_region_only=True, regions=["us", "eu"])
    assert both.schedule(req(region="ap"), reps).ranked == []


def test_region_filter_refuses_unknown_arguments() -> None:
    with pytest.raises(RegistryError, match="request_region"):
        nearest_only(request_region=True)


def test_cost_profile_prefers_cheaper_replicas() -> None:
    reps = [Rep("h100", cost=12.0), Rep("a100", cost=3.7)]
    assert profile("cost").schedule(req(), reps).ranked[0].name == "a100"


def test_prefix_index_counts_leading_matches_and_is_bounded() -> None:
    index = PrefixIndex(capacity=4)
    index.record("r", (1, 2, 3))
    assert index.matched("r", (1, 2, 9)) == 2
    assert index.matched("r", (9, 2, 3)) == 0
    index.record("r", (5, 6, 7))
    assert index.matched("r", (1, 2, 3)) == 0  # oldest blocks evicted first
    assert index.matched("r", (5, 6, 7)) == 3
