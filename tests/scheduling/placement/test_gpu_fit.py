"""GpuFit: sizing the placement's models on each cluster's reported GPUs with the shared sizing, free
capacity by slots and free nodes, provisionable fallback, and demands consuming capacity in turn."""

from __future__ import annotations

from types import MappingProxyType

from infleet.api import fleet_properties as fp
from infleet.scheduling import Code
from infleet.scheduling.placement import schedule
from infleet.scheduling.placement.schedule import PlacementScheduler
from tests.scheduling.placement.fleet import LLAMA_8B, LLAMA_70B, cluster, demand, gpu_properties, request

PICK_ONE = {"placementType": "PickN", "numberOfClusters": 1}


def test_refuses_a_cluster_without_room_and_says_why() -> None:
    clusters = [cluster("full", properties=gpu_properties("H100", 4, 8, 0, 3.0, partial=3))]
    decision = schedule(request(PICK_ONE, workloads=(demand(LLAMA_70B, replicas=2, gpus=4),)), clusters)
    assert not decision.fulfilled
    outcome = decision.unselected[0]
    assert outcome.code is Code.UNSCHEDULABLE  # GPUs free up: waiting can help
    assert outcome.reason == (
        "GpuFit: md needs 2 replicas x 4 x H100 (8 GPUs); has 3 H100 free, largest free block 3, "
        "0 free nodes, nothing provisionable"
    )
    assert decision.message == "PickN wanted 1 clusters, found 0: GpuFit rejected 1"
    assert decision.retry_may_help


def test_a_cluster_whose_gpus_cannot_hold_the_model_gets_the_sizing_explanation() -> None:
    clusters = [cluster("small", properties=gpu_properties("T4", 1, 1, 1, 0.5))]
    decision = schedule(request(PICK_ONE, workloads=(demand(LLAMA_70B),)), clusters)
    assert decision.unselected[0].reason.startswith("GpuFit: md: meta-llama/Llama-3.1-70B-Instruct needs")


def test_a_cluster_without_gpus_is_refused() -> None:
    decision = schedule(request(PICK_ONE, workloads=(demand(LLAMA_8B),)), [cluster("cpu")])
    assert "reports no GPUs" in decision.unselected[0].reason


def test_no_workloads_means_no_gpu_check() -> None:
    assert schedule(request(PICK_ONE), [cluster("cpu")]).cluster_names == ("cpu",)


def test_multi_node_replicas_need_free_nodes() -> None:
    # 405B needs more than one 8 x H100 node: two whole free nodes per replica.
    model = "meta-llama/Llama-3.1-405B-Instruct"
    one_free = cluster("one", properties=gpu_properties("H100", 4, 8, 1, 3.0))
    two_free = cluster("two", properties=gpu_properties("H100", 4, 8, 2, 3.0))
    decision = schedule(
        request({"placementType": "PickAll"}, workloads=(demand(model),)), [one_free, two_free]
    )
    assert decision.cluster_names == ("two",)
    assert "on 2 nodes" in decision.selected[0].reason
    assert "free nodes" in decision.unselected[0].reason


def test_provisionable_gpus_are_the_fallback() -> None:
    props = gpu_properties("H100", 1, 8, 0, 4.0, provisionable=16)
    decision = schedule(
        request(PICK_ONE, workloads=(demand(LLAMA_70B, replicas=2),)), [cluster("elastic", properties=props)]
    )
    assert decision.cluster_names == ("elastic",)
    assert "provisioned" in decision.selected[0].reason


def test_demands_consume_capacity_cumulatively() -> None:
    props = gpu_properties("L4", 1, 4, 1, 1.0)  # one free node of 4 x L4
    fits_one = (demand(LLAMA_8B, replicas=3, name="a"),)
    too_many = (demand(LLAMA_8B, replicas=3, name="a"), demand(LLAMA_8B, replicas=2, name="b"))
    assert schedule(request(PICK_ONE, workloads=fits_one), [cluster("c", properties=props)]).fulfilled
    decision = schedule(request(PICK_ONE, workloads=too_many), [cluster("c", properties=props)])
    assert not decision.fulfilled
    assert decision.unselected[0].reason.endswith("after placing a")
    assert "b needs 2 replicas x 1 x L4" in decision.unselected[0].reason


def test_unknown_skus_and_bad_values_are_ignored() -> None:
    props = {fp.sku_property("Z9000", fp.SKU_TOTAL): "8", **gpu_properties("L4", 1, 4, 1, 1.0)}
    props[fp.sku_property("L4", fp.SKU_GPU_HOUR_COST)] = "cheap"  # not a quantity: catalog price
    decision = schedule(request(PICK_ONE, workloads=(demand(LLAMA_8B),)), [cluster("c", properties=props)])
    assert decision.fulfilled
    assert "$0.98/h" in decision.selected[0].reason


def test_a_placed_cluster_stays_though_its_own_replicas_took_the_gpus_it_reported_free() -> None:
    # The member now reports 3 free H100s because the placement's own 2 x 4 replicas run there.
    full = cluster("placed", properties=gpu_properties("H100", 4, 8, 0, 3.0, partial=3))
    roomy = cluster("roomy", properties=gpu_properties("H100", 4, 8, 4, 3.0))
    placed = request(
        PICK_ONE, workloads=(demand(LLAMA_70B, replicas=2, gpus=4),), bindings={"placed": "Bound"}
    )
    decision = schedule(placed, [full, roomy])
    assert decision.cluster_names == ("placed",)
    assert decision.fulfilled
    assert "cost" not in decision.selected[0].reason  # a quote from its leftover GPUs would mislead
    assert [o.cluster for o in decision.unselected] == ["roomy"]
    assert decision.unselected[0].reason.startswith("PickN: the placement already has its 1 clusters")


def test_a_long_lived_scheduler_refits_when_the_report_or_the_demands_change() -> None:
    # GpuFit results are kept across cycles per report and demands: a member's changed report, or a
    # placement's changed demands, must never read the previous result.
    scheduler = PlacementScheduler()
    wants = request(PICK_ONE, workloads=(demand(LLAMA_70B, replicas=2, gpus=4),))
    full = cluster("m", properties=MappingProxyType(gpu_properties("H100", 4, 8, 0, 3.0, partial=3)))
    assert not scheduler.schedule(wants, [full]).fulfilled
    assert not scheduler.schedule(wants, [full]).fulfilled  # the kept result, still right
    freed = cluster("m", properties=MappingProxyType(gpu_properties("H100", 4, 8, 2, 3.0)))
    assert scheduler.schedule(wants, [freed]).cluster_names == ("m",)
    assert not scheduler.schedule(wants, [full]).fulfilled  # back to the full report
    smaller = request(PICK_ONE, workloads=(demand(LLAMA_8B),))
    assert scheduler.schedule(smaller, [full]).cluster_names == ("m",)  # other demands, other result
    plain = cluster("m", properties=dict(gpu_properties("H100", 4, 8, 2, 3.0)))
    assert scheduler.schedule(wants, [plain]).cluster_names == ("m",)  # a plain dict: keyed by content


def test_a_cluster_left_out_says_what_it_would_have_cost() -> None:
    cheap = cluster("cheap", properties=gpu_properties("H100", 2, 8, 2, 2.0))
    dear = cluster("dear", properties=gpu_properties("H100", 2, 8, 2, 4.0))
    decision = schedule(request(PICK_ONE, workloads=(demand(LLAMA_8B),)), [cheap, dear])
    assert decision.cluster_names == ("cheap",)
    [left_out] = decision.unselected
    assert left_out.cluster == "dear"
    assert "it would cost $" in left_out.reason
    assert "H100" in left_out.reason


def test_placements_of_the_same_shape_share_one_fit_but_keep_their_own_names() -> None:
    scheduler = PlacementScheduler()
    full = [cluster("full", properties=gpu_properties("H100", 4, 8, 0, 3.0, partial=3))]
    for name in ("team-a/llama", "team-b/llama"):
        ask = request(PICK_ONE, workloads=(demand(LLAMA_70B, replicas=2, name=name, gpus=4),))
        reason = scheduler.schedule(ask, full).unselected[0].reason
        assert reason.startswith(f"GpuFit: {name} needs 2 replicas x 4 x H100")
        assert "\x00" not in reason
