"""Placement filters: eligibility, required cluster affinity (labels and each property operator) and
taints with tolerations."""

from __future__ import annotations

import pytest

from infleet.api import fleet_properties as fp
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import Taint
from infleet.scheduling import Code
from infleet.scheduling.placement import Eligibility, schedule
from tests.scheduling.placement.fleet import cluster, request


def _names(decision: object) -> list[str]:
    return list(decision.cluster_names)  # type: ignore[attr-defined]


def test_eligibility_drops_unjoined_deleting_and_silent_clusters() -> None:
    clusters = [
        cluster("ok"),
        cluster("new", joined=False),
        cluster("gone", deleting=True),
        cluster("silent", seconds_since_heartbeat=301.0),
        cluster("never", seconds_since_heartbeat=None),
        cluster("sick", healthy=False),
    ]
    decision = schedule(request(), clusters)
    assert _names(decision) == ["ok", "sick"]  # KubeFleet keeps unhealthy clusters
    reasons = {o.cluster: o for o in decision.unselected}
    assert "over the 300s timeout" in reasons["silent"].reason
    assert reasons["gone"].code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert reasons["new"].code is Code.UNSCHEDULABLE


def test_failover_excludes_unhealthy_and_honours_the_timeout() -> None:
    clusters = [cluster("ok", seconds_since_heartbeat=50.0), cluster("sick", healthy=False)]
    strict = Eligibility(heartbeat_timeout_seconds=30.0, exclude_unhealthy=True)
    decision = schedule(request(eligibility=strict), clusters)
    assert _names(decision) == []
    assert "unhealthy" in decision.unselected[1].reason


def _required(*terms: dict[str, object]) -> dict[str, object]:
    return {
        "placementType": "PickAll",
        "affinity": {
            "clusterAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"clusterSelectorTerms": list(terms)}
            }
        },
    }


def test_required_label_selector_terms_are_ored() -> None:
    clusters = [cluster("east", {"region": "east"}), cluster("west", {"region": "west"}), cluster("none")]
    terms = (
        {"labelSelector": {"matchLabels": {"region": "east"}}},
        {"labelSelector": {"matchExpressions": [{"key": "region", "operator": "In", "values": ["west"]}]}},
    )
    decision = schedule(request(_required(*terms)), clusters)
    assert _names(decision) == ["east", "west"]
    assert decision.unselected[0].code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert decision.unselected[0].reason.startswith("ClusterAffinity: no required term matches")


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("Gt", "8", ["sixteen"]),
        ("Ge", "8", ["eight", "sixteen"]),
        ("Eq", "8", ["eight"]),
        ("Ne", "8", ["four", "sixteen"]),
        ("Lt", "8", ["four"]),
        ("Le", "8", ["eight", "four"]),
        ("Ge", "8000m", ["eight", "sixteen"]),  # compared as quantities, not text
    ],
)
def test_property_selector_operators(operator: str, value: str, expected: list[str]) -> None:
    clusters = [
        cluster("four", properties={fp.NODE_COUNT: "4"}),
        cluster("eight", properties={fp.NODE_COUNT: "8"}),
        cluster("sixteen", properties={fp.NODE_COUNT: "16"}),
        cluster("silent"),  # a missing property fails the term
    ]
    term = {
        "propertySelector": {
            "matchExpressions": [{"name": fp.NODE_COUNT, "operator": operator, "values": [value]}]
        }
    }
    decision = schedule(request(_required(term)), clusters)
    assert sorted(_names(decision)) == expected
    silent = next(o for o in decision.unselected if o.cluster == "silent")
    assert "is not reported" in silent.reason


def test_eq_and_ne_compare_names_as_text_and_labels_and_properties_are_anded() -> None:
    clusters = [
        cluster("a", {"env": "prod"}, {fp.REGION: "eastus"}),
        cluster("b", {"env": "dev"}, {fp.REGION: "eastus"}),
        cluster("c", {"env": "prod"}, {fp.REGION: "westus"}),
    ]
    term = {
        "labelSelector": {"matchLabels": {"env": "prod"}},
        "propertySelector": {
            "matchExpressions": [{"name": fp.REGION, "operator": "Eq", "values": ["eastus"]}]
        },
    }
    assert _names(schedule(request(_required(term)), clusters)) == ["a"]
    ne = {
        "propertySelector": {
            "matchExpressions": [{"name": fp.REGION, "operator": "Ne", "values": ["eastus"]}]
        }
    }
    assert _names(schedule(request(_required(ne)), clusters)) == ["c"]
    gt = {
        "propertySelector": {
            "matchExpressions": [{"name": fp.REGION, "operator": "Gt", "values": ["eastus"]}]
        }
    }
    decision = schedule(request(_required(gt)), clusters)
    assert _names(decision) == []
    assert "is not a quantity" in decision.unselected[0].reason


def test_taints_need_tolerations_with_equal_and_exists() -> None:
    taint = Taint(key="dedicated", value="gpu")
    clusters = [cluster("plain"), cluster("tainted", taints=(taint,))]
    decision = schedule(request(), clusters)
    assert _names(decision) == ["plain"]
    assert "taint dedicated=gpu:NoSchedule is not tolerated" in decision.unselected[0].reason
    assert decision.unselected[0].code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    for toleration in (
        {"key": "dedicated", "operator": "Equal", "value": "gpu"},
        {"key": "dedicated", "operator": "Exists"},
        {"operator": "Exists"},
    ):
        policy = {"placementType": "PickAll", "tolerations": [toleration]}
        assert _names(schedule(request(policy), clusters)) == ["plain", "tainted"], toleration
    wrong = {"placementType": "PickAll", "tolerations": [{"key": "dedicated", "value": "cpu"}]}
    assert _names(schedule(request(wrong), clusters)) == ["plain"]
