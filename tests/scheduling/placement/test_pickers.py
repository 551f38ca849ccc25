"""The pickers per policy type: PickAll, PickN (staying put, downscale, topology spread hard and soft)
and PickFixed (unknown names, eligibility, taints ignored)."""

from __future__ import annotations

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import Taint
from infleet.scheduling.placement import schedule
from tests.scheduling.placement.fleet import LLAMA_8B, cluster, demand, gpu_properties, request


def _priced(name: str, price: float, region: str = "") -> object:
    return cluster(name, {"region": region} if region else {}, gpu_properties("L4", 2, 4, 2, price))


def test_pick_all_takes_every_feasible_cluster_and_is_fulfilled() -> None:
    decision = schedule(request(None), [cluster("b"), cluster("a"), cluster("x", joined=False)])
    assert decision.cluster_names == ("a", "b")
    assert decision.fulfilled
    assert [o.cluster for o in decision.unselected] == ["x"]


def test_pick_n_stays_put_instead_of_moving_to_a_cheaper_cluster() -> None:
    clusters = [_priced("bound", 2.0), _priced("cheaper", 0.5), _priced("cheapest", 0.3)]
    policy = {"placementType": "PickN", "numberOfClusters": 2}
    decision = schedule(request(policy, workloads=(demand(LLAMA_8B),), bindings={"bound": "Bound"}), clusters)
    assert decision.cluster_names == ("bound", "cheapest")
    assert "staying put (Bound)" in decision.selected[0].reason


def test_pick_n_replaces_a_bound_cluster_that_no_longer_fits() -> None:
    clusters = [_priced("bound", 2.0, ""), _priced("spare", 0.5)]
    clusters[0] = cluster("bound", joined=False)
    policy = {"placementType": "PickN", "numberOfClusters": 1}
    decision = schedule(request(policy, workloads=(demand(LLAMA_8B),), bindings={"bound": "Bound"}), clusters)
    assert decision.cluster_names == ("spare",)


def test_pick_n_downscale_drops_scheduled_then_lowest_scored() -> None:
    clusters = [_priced("a", 1.0), _priced("b", 2.0), _priced("c", 3.0)]
    bindings = {"a": "Scheduled", "b": "Bound", "c": "Bound"}
    policy = {"placementType": "PickN", "numberOfClusters": 1}
    decision = schedule(request(policy, workloads=(demand(LLAMA_8B),), bindings=bindings), clusters)
    assert decision.cluster_names == ("b",)  # a is only Scheduled; b beats c on cost
    assert [o.cluster for o in decision.unselected] == ["c", "a"]
    assert decision.unselected[0].reason.startswith("PickN: downscaled: numberOfClusters is 1")


def test_pick_n_unfulfilled_says_how_many_and_why() -> None:
    policy = {"placementType": "PickN", "numberOfClusters": 3}
    decision = schedule(request(policy), [cluster("a"), cluster("b", deleting=True)])
    assert not decision.fulfilled
    assert decision.message == "PickN wanted 3 clusters, found 1: ClusterEligibility rejected 1"
    assert not decision.retry_may_help  # deletion is final


def _spread(count: int, when: str, skew: int = 1) -> dict[str, object]:
    return {
        "placementType": "PickN",
        "numberOfClusters": count,
        "topologySpreadConstraints": [{"maxSkew": skew, "topologyKey": "region", "whenUnsatisfiable": when}],
    }


def test_hard_spread_takes_a_dearer_region_and_refuses_to_exceed_max_skew() -> None:
    clusters = [
        _priced("east-1", 0.5, "east"),
        _priced("east-2", 0.6, "east"),
        _priced("east-3", 0.7, "east"),
        _priced("west-1", 3.0, "west"),
    ]
    decision = schedule(request(_spread(2, "DoNotSchedule"), workloads=(demand(LLAMA_8B),)), clusters)
    assert decision.cluster_names == ("east-1", "west-1")
    decision = schedule(request(_spread(4, "DoNotSchedule"), workloads=(demand(LLAMA_8B),)), clusters)
    assert set(decision.cluster_names) == {"east-1", "east-2", "west-1"}
    assert not decision.fulfilled
    blocked = next(o for o in decision.unselected if o.cluster == "east-3")
    assert blocked.reason.startswith("TopologySpread: one more cluster in region=east makes the skew 2")


def test_soft_spread_prefers_balance_but_still_fills() -> None:
    clusters = [
        _priced("east-1", 0.5, "east"),
        _priced("east-2", 0.6, "east"),
        _priced("west-1", 3.0, "west"),
    ]
    decision = schedule(request(_spread(2, "ScheduleAnyway"), workloads=(demand(LLAMA_8B),)), clusters)
    assert decision.cluster_names == ("east-1", "west-1")
    decision = schedule(request(_spread(3, "ScheduleAnyway"), workloads=(demand(LLAMA_8B),)), clusters)
    assert decision.fulfilled
    assert len(decision.cluster_names) == 3


def test_hard_spread_refuses_clusters_without_the_label() -> None:
    decision = schedule(
        request(_spread(2, "DoNotSchedule")), [cluster("a", {"region": "x"}), cluster("bare")]
    )
    assert decision.cluster_names == ("a",)
    assert "has no label region" in decision.unselected[0].reason


def test_pick_fixed_reports_unknown_and_ineligible_names_and_ignores_taints() -> None:
    clusters = [cluster("a", taints=(Taint(key="k"),)), cluster("b", joined=False), cluster("c")]
    policy = {"placementType": "PickFixed", "clusterNames": ["a", "b", "ghost"]}
    decision = schedule(request(policy, workloads=(demand(LLAMA_8B),)), clusters)
    assert decision.cluster_names == ("a",)
    assert decision.missing == ("ghost",)
    assert not decision.fulfilled
    assert (
        decision.message == "PickFixed got 1 of 3 clusters: b is not eligible; ghost is not a member cluster"
    )
    assert {o.cluster for o in decision.unselected} == {"b", "ghost"}  # c is not listed, so not reported
