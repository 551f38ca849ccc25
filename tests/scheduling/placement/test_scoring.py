"""Placement scores: preferred affinity (weights, negative weights, KubeFleet's sorter interpolation),
GPU cost and how they combine: explicit preferences outweigh cost, cost decides when there is none."""

from __future__ import annotations

import pytest

from infleet.api import fleet_properties as fp
from infleet.scheduling.placement import schedule
from tests.scheduling.placement.fleet import LLAMA_8B, cluster, demand, gpu_properties, request


def _preferred(count: int, *terms: dict[str, object]) -> dict[str, object]:
    return {
        "placementType": "PickN",
        "numberOfClusters": count,
        "affinity": {"clusterAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": list(terms)}},
    }


def _sorter(weight: int, order: str, name: str = fp.NODE_COUNT) -> dict[str, object]:
    return {"weight": weight, "preference": {"propertySorter": {"name": name, "sortOrder": order}}}


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        # Descending round((v-min)/(max-min)*w): 3 -> 0, 5 -> round(5.71) = 6, 10 -> 20
        ("Descending", {"three": 0, "five": 6, "ten": 20}),
        # Ascending round((1-(v-min)/(max-min))*w): 3 -> 20, 5 -> round(14.29) = 14, 10 -> 0
        ("Ascending", {"three": 20, "five": 14, "ten": 0}),
    ],
)
def test_property_sorter_interpolates_like_kubefleet(order: str, expected: dict[str, int]) -> None:
    clusters = [
        cluster(n, properties={fp.NODE_COUNT: v}) for n, v in (("three", "3"), ("five", "5"), ("ten", "10"))
    ]
    decision = schedule(request(_preferred(3, _sorter(20, order))), clusters)
    assert {o.cluster: o.affinity_score for o in decision.selected} == expected
    assert decision.selected[0].cluster == max(expected, key=lambda k: expected[k])
    assert decision.selected[0].to_api().cluster_score.affinity_score == max(expected.values())  # type: ignore[union-attr]


def test_sorter_rounds_halves_away_from_zero_as_go_does() -> None:
    clusters = [
        cluster(n, properties={fp.NODE_COUNT: v}) for n, v in (("zero", "0"), ("one", "1"), ("two", "2"))
    ]
    decision = schedule(request(_preferred(3, _sorter(5, "Descending"))), clusters)
    assert {o.cluster: o.affinity_score for o in decision.selected} == {"zero": 0, "one": 3, "two": 5}


def test_sorter_gives_zero_when_values_are_equal_or_missing() -> None:
    clusters = [
        cluster("a", properties={fp.NODE_COUNT: "4"}),
        cluster("b", properties={fp.NODE_COUNT: "4"}),
        cluster("c"),
    ]
    decision = schedule(request(_preferred(3, _sorter(30, "Descending"))), clusters)
    assert {o.affinity_score for o in decision.selected} == {0}


def test_label_weights_add_up_and_may_be_negative() -> None:
    clusters = [
        cluster("prod-east", {"env": "prod", "region": "east"}),
        cluster("prod-west", {"env": "prod", "region": "west"}),
        cluster("dev-east", {"env": "dev", "region": "east"}),
    ]
    terms = (
        {"weight": 40, "preference": {"labelSelector": {"matchLabels": {"env": "prod"}}}},
        {"weight": -50, "preference": {"labelSelector": {"matchLabels": {"region": "west"}}}},
        {"weight": 10, "preference": {"labelSelector": {"matchLabels": {"region": "east"}}}},
    )
    decision = schedule(request(_preferred(3, *terms)), clusters)
    assert [(o.cluster, o.affinity_score) for o in decision.selected] == [
        ("prod-east", 50),
        ("dev-east", 10),
        ("prod-west", -10),
    ]
    assert "affinity 50" in decision.selected[0].reason


def _gpu_cluster(name: str, price: float, labels: dict[str, str] | None = None) -> object:
    return cluster(name, labels, gpu_properties("L4", 2, 4, 2, price))


def test_cost_decides_when_there_is_no_preference() -> None:
    clusters = [_gpu_cluster("dear", 1.50), _gpu_cluster("cheap", 0.80), _gpu_cluster("mid", 1.00)]
    decision = schedule(request(_preferred(1), workloads=(demand(LLAMA_8B),)), clusters)
    assert decision.cluster_names == ("cheap",)
    assert "cost $0.80/h (1 x 1 x L4)" in decision.selected[0].reason


def test_explicit_affinity_weight_outweighs_cost() -> None:
    clusters = [_gpu_cluster("dear", 9.00, {"team": "a"}), _gpu_cluster("cheap", 0.10)]
    term = {"weight": 1, "preference": {"labelSelector": {"matchLabels": {"team": "a"}}}}
    decision = schedule(request(_preferred(1, term), workloads=(demand(LLAMA_8B),)), clusters)
    assert decision.cluster_names == ("dear",)
    unpicked = decision.unselected[0]
    assert unpicked.cluster == "cheap"
    assert unpicked.reason.startswith("PickN: not among the best 1")
