"""The autoscaler's decisions over time with a manual clock: out on load, back to the minimum, to zero."""

from __future__ import annotations

from infleet.api.aitoolchain_io.v1.model_deployment import Autoscaling, Serving
from infleet.models.autoscaler import Autoscaler

POLICY = Autoscaling(
    min_replicas=1,
    max_replicas=5,
    metric="queueDepth",
    target=4,
    scale_up_stabilization_seconds=0,
    scale_down_stabilization_seconds=60,
    scale_to_zero_after_seconds=300,
)


def load(queue: float, rps: float = 1.0) -> Serving:
    return Serving(requests_per_second=rps, queue_depth=queue, running_requests=queue)


def test_scales_out_on_queue_depth_within_max() -> None:
    scaler = Autoscaler()
    decision = scaler.decide("k", POLICY, current=1, ready=1, serving=load(12), now=0.0)
    assert (decision.replicas, decision.reason) == (3, "ScaledUp")  # ceil(1 x 12 / 4)
    assert scaler.decide("k", POLICY, current=3, ready=3, serving=load(100), now=10.0).replicas == 5


def test_within_tolerance_holds() -> None:
    decision = Autoscaler().decide("k", POLICY, current=2, ready=2, serving=load(8.5), now=0.0)
    assert (decision.replicas, decision.reason) == (2, "Stable")


def test_scale_down_waits_for_the_stabilization_window_then_goes_to_the_minimum() -> None:
    scaler = Autoscaler()
    scaler.decide("k", POLICY, current=4, ready=4, serving=load(16), now=0.0)
    assert scaler.decide("k", POLICY, current=4, ready=4, serving=load(0, rps=2), now=30.0).replicas == 4
    assert scaler.decide("k", POLICY, current=4, ready=4, serving=load(0, rps=2), now=61.0).replicas == 1


def test_idle_scales_to_zero_and_wake_brings_it_back() -> None:
    scaler = Autoscaler()
    idle = Serving()
    assert scaler.decide("k", POLICY, current=1, ready=1, serving=load(1), now=0.0).replicas == 1
    assert scaler.decide("k", POLICY, current=1, ready=1, serving=idle, now=200.0).replicas == 1
    decision = scaler.decide("k", POLICY, current=1, ready=1, serving=idle, now=301.0)
    assert (decision.replicas, decision.reason) == (0, "Idle")
    assert scaler.decide("k", POLICY, current=0, ready=0, serving=None, now=400.0).replicas == 0
    woken = scaler.decide("k", POLICY, current=0, ready=0, serving=None, now=500.0, wake_requested=True)
    assert (woken.replicas, woken.reason) == (1, "WakeRequested")
    # Freshly woken, the idle clock restarts instead of dropping straight back to zero.
    assert scaler.decide("k", POLICY, current=1, ready=0, serving=None, now=510.0).replicas == 1


def test_external_scale_from_zero_counts_as_a_wake() -> None:
    scaler = Autoscaler()
    scaler.decide("k", POLICY, current=1, ready=1, serving=Serving(), now=0.0)
    assert scaler.decide("k", POLICY, current=1, ready=1, serving=Serving(), now=400.0).replicas == 0
    scaler.decide("k", POLICY, current=0, ready=0, serving=None, now=410.0)
    assert scaler.decide("k", POLICY, current=2, ready=0, serving=None, now=420.0).replicas == 2


def test_kv_cache_usage_metric() -> None:
    policy = POLICY.model_copy(update={"metric": "kvCacheUsage", "target": 0.5})
    decision = Autoscaler().decide(
        "k", policy, current=2, ready=2, serving=Serving(kv_cache_usage=0.9), now=0.0
    )
    assert decision.replicas == 4  # ceil(2 x 0.9 / 0.5)
