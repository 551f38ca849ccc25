"""PodDisruptionBudget arithmetic: healthy pods, desired healthy and disruptions allowed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infleet.api.disruption_budgets import budget_status, selector_matches


def pod(
    name: str, ready: bool = True, terminating: bool = False, owner: str | None = "web"
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "default", "labels": {"app": "web"}}
    if terminating:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if owner:
        metadata["ownerReferences"] = [
            {"kind": "Deployment", "name": owner, "uid": owner, "controller": True}
        ]
    return {
        "metadata": metadata,
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": str(ready)}]},
    }


def pdb(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
    }


def five_replicas(_namespace: str, owner: Mapping[str, Any]) -> int | None:
    return 5 if owner.get("name") == "web" else None


PODS = [pod("a"), pod("b"), pod("c", ready=False), pod("d", terminating=True)]


def test_min_available_as_a_number_counts_the_pods_it_selects() -> None:
    status = budget_status(pdb(minAvailable=1), PODS, five_replicas)
    assert (status.expected_pods, status.current_healthy, status.desired_healthy) == (4, 2, 1)
    assert status.disruptions_allowed == 1


def test_max_unavailable_and_percentages_count_the_controllers_scale() -> None:
    status = budget_status(pdb(maxUnavailable="40%"), PODS, five_replicas)
    assert (status.expected_pods, status.desired_healthy, status.disruptions_allowed) == (5, 3, 0)
    status = budget_status(pdb(minAvailable="30%"), PODS, five_replicas)
    assert (status.desired_healthy, status.disruptions_allowed) == (2, 0)
    status = budget_status(pdb(maxUnavailable=4), PODS, five_replicas)
    assert (status.desired_healthy, status.disruptions_allowed) == (1, 1)


def test_pods_without_a_known_controller_count_one_each() -> None:
    pods = [pod("a", owner=None), pod("b", owner="gone")]
    status = budget_status(pdb(maxUnavailable=0), pods, five_replicas)
    assert (status.expected_pods, status.desired_healthy, status.disruptions_allowed) == (2, 2, 0)


def test_other_namespaces_and_a_missing_selector_select_nothing() -> None:
    elsewhere = pod("x")
    elsewhere["metadata"]["namespace"] = "other"
    assert budget_status(pdb(minAvailable=0), [elsewhere], five_replicas).expected_pods == 0
    no_selector = {"metadata": {"name": "p", "namespace": "default"}, "spec": {"minAvailable": 0}}
    assert budget_status(no_selector, PODS, five_replicas).expected_pods == 0
    everything = {"metadata": {"name": "p", "namespace": "default"}, "spec": {"selector": {}}}
    assert (
        budget_status(
            everything | {"spec": {"selector": {}, "minAvailable": 0}}, PODS, five_replicas
        ).current_healthy
        == 2
    )


def test_match_expressions() -> None:
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
            {"key": "canary", "operator": "DoesNotExist"},
        ],
    }
    assert selector_matches(selector, {"app": "web", "tier": "a"})
    assert not selector_matches(selector, {"app": "web", "tier": "c"})
    assert not selector_matches(selector, {"app": "web", "tier": "a", "canary": "1"})
    assert not selector_matches({"matchExpressions": [{"key": "x", "operator": "Exists"}]}, {})
    assert selector_matches({"matchExpressions": [{"key": "x", "operator": "NotIn", "values": ["1"]}]}, {})
