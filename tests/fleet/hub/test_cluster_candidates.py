"""MemberClusters as scheduling candidates: automatic failover's window, on by default for PickN only,
off per placement, and a held cluster staying put until the window has passed."""

from __future__ import annotations

from typing import Any

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import MEMBER_AGENT
from infleet.api.labels import FAILOVER_AFTER_ANNOTATION, FAILOVER_ANNOTATION
from infleet.fleet.hub.cluster_candidates import (
    Failover,
    MemberView,
    MemberViews,
    candidate,
    failover_of,
    next_failover,
)
from infleet.kube.conditions import timestamp

NOW = 1_750_000_000.0


def placement(kind: str, **annotations: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "annotations": annotations},
        "spec": {"policy": {"placementType": kind}},
    }


def member(healthy: str, since: float, heartbeat: float) -> dict[str, Any]:
    return {
        "metadata": {"name": "m", "labels": {"env": "prod"}},
        "spec": {"taints": [{"key": "gpu", "value": "busy", "effect": "NoSchedule"}]},
        "status": {
            "conditions": [
                {"type": "Joined", "status": "True"},
                {"type": "Healthy", "status": healthy, "lastTransitionTime": timestamp(since)},
            ],
            "agentStatus": [{"type": MEMBER_AGENT, "lastReceivedHeartbeat": timestamp(heartbeat)}],
            "properties": {"kubernetes-fleet.io/node-count": {"value": "4"}},
        },
    }


def test_failover_is_on_for_pick_n_only_and_can_be_turned_off_or_tuned() -> None:
    assert failover_of(placement("PickN"), 60) == Failover(True, 60)
    assert not failover_of(placement("PickAll"), 60).enabled
    assert not failover_of(placement("PickFixed"), 60).enabled
    assert not failover_of(placement("PickN", **{FAILOVER_ANNOTATION: "false"}), 60).enabled
    assert failover_of(placement("PickN", **{FAILOVER_AFTER_ANNOTATION: "5"}), 60).after_seconds == 5
    assert failover_of(placement("PickN", **{FAILOVER_AFTER_ANNOTATION: "soon"}), 60).after_seconds == 60


def test_an_unhealthy_member_counts_as_unhealthy_only_past_the_window() -> None:
    window = Failover(True, 30)
    sick = member("False", since=NOW - 10, heartbeat=NOW - 10)
    early = candidate(sick, NOW, window, holds_binding=True)
    assert early.healthy
    assert early.seconds_since_heartbeat == 0.0  # it holds the placement: it stays put for now
    assert next_failover([MemberView.of(sick)], NOW, window) == 20
    late = candidate(sick, NOW + 25, window, holds_binding=True)
    assert not late.healthy
    assert late.seconds_since_heartbeat == 35
    off = candidate(sick, NOW + 25, Failover(False, 30), holds_binding=True)
    assert off.healthy  # failover off: the placement stays where it is, as in KubeFleet
    assert next_failover([MemberView.of(sick)], NOW, Failover(False, 30)) is None


def test_a_candidate_carries_labels_properties_and_taints() -> None:
    found = candidate(member("True", NOW - 100, NOW - 3), NOW, Failover(True, 30), holds_binding=False)
    assert found.labels == {"env": "prod"}
    assert found.properties == {"kubernetes-fleet.io/node-count": "4"}
    assert [(t.key, t.value) for t in found.taints] == [("gpu", "busy")]
    assert found.joined
    assert found.seconds_since_heartbeat == 3


def versioned(version: str, healthy: str = "True") -> dict[str, Any]:
    found = member(healthy, NOW - 100, NOW - 3)
    found["metadata"]["resourceVersion"] = version
    return found


def test_member_views_are_parsed_once_per_version_and_never_outlive_a_change() -> None:
    views = MemberViews()
    first = views.of([versioned("1")])
    assert views.of([versioned("1")])[0] is first[0]  # same version: the parsed view is reused
    sick = views.of([versioned("2", healthy="False")])[0]
    assert sick is not first[0]
    assert not sick.candidate(NOW + 100, Failover(True, 30), holds_binding=False).healthy
    assert views.of([]) == []
    assert views.of([versioned("2", healthy="True")])[0].unhealthy_since is None  # forgotten once gone


def test_a_member_without_a_resource_version_is_parsed_every_time() -> None:
    views = MemberViews()
    plain = member("True", NOW - 100, NOW - 3)
    assert views.of([plain])[0] is not views.of([plain])[0]
