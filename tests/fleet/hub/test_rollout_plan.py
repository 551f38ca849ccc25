"""The rolling update's arithmetic: KubeFleet's budgets (percentages of the target, rounded up), surge only
for new clusters, updates within maxUnavailable, and failover that never waits on a dead cluster."""

from __future__ import annotations

from typing import Any

from infleet.fleet.hub.rollout_plan import budget, is_ready, plan_rollout

LATEST = "p-1-snapshot"
OLD = "p-0-snapshot"


def binding(
    cluster: str, state: str, snapshot: str | None = LATEST, available: bool = True
) -> dict[str, Any]:
    spec: dict[str, Any] = {"state": state, "targetCluster": cluster}
    if snapshot and state != "Scheduled":
        spec["resourceSnapshotName"] = snapshot
    conditions = [{"type": "Available", "status": "True" if available else "False", "observedGeneration": 1}]
    return {
        "metadata": {"name": f"p-{cluster}", "generation": 1},
        "spec": spec,
        "status": {"conditions": conditions},
    }


def names(items: list[dict[str, Any]]) -> list[str]:
    return [b["spec"]["targetCluster"] for b in items]


def test_budgets_round_percentages_up() -> None:
    assert budget("25%", 10) == 3
    assert budget("25%", 1) == 1
    assert budget(None, 4) == 1  # KubeFleet's default 25%
    assert budget(0, 4) == 0
    assert budget("2", 4) == 2


def test_readiness_needs_a_healthy_cluster_and_the_current_generation() -> None:
    ready = binding("a", "Bound")
    assert is_ready(ready, {"a"})
    assert not is_ready(ready, set())  # a lost cluster serves nothing, whatever it last said
    stale = binding("a", "Bound")
    stale["metadata"]["generation"] = 2
    assert not is_ready(stale, {"a"})
    assert not is_ready(binding("a", "Scheduled"), {"a"})


def test_new_clusters_are_bound_up_to_target_plus_surge() -> None:
    bindings = [binding(c, "Scheduled") for c in "abcd"]
    plan = plan_rollout(bindings, target=3, latest_snapshot=LATEST, strategy={}, healthy_clusters=set("abcd"))
    assert names(plan.bind) == ["a", "b", "c", "d"][: 3 + 1]  # 25% of 3 rounds up to 1 extra
    strict = {"rollingUpdate": {"maxSurge": 0}}
    assert len(plan_rollout(bindings, 3, LATEST, strict, set("abcd")).bind) == 3


def test_updates_stay_within_max_unavailable() -> None:
    bindings = [binding(c, "Bound", snapshot=OLD) for c in "abcd"]
    plan = plan_rollout(bindings, 4, LATEST, {"rollingUpdate": {"maxUnavailable": 1}}, set("abcd"))
    assert names(plan.update) == ["a"]
    # A cluster that is not serving anyway is updated at once; it already uses the whole budget, so the
    # serving ones wait for it.
    bindings[3] = binding("d", "Bound", snapshot=OLD, available=False)
    plan = plan_rollout(bindings, 4, LATEST, {"rollingUpdate": {"maxUnavailable": 1}}, set("abcd"))
    assert names(plan.update) == ["d"]


def test_a_removed_cluster_waits_for_its_replacement_unless_it_is_not_serving() -> None:
    bindings = [binding("a", "Bound"), binding("b", "Unscheduled"), binding("c", "Scheduled")]
    plan = plan_rollout(bindings, 2, LATEST, {"rollingUpdate": {"maxUnavailable": 0}}, set("abc"))
    assert plan.delete == []  # b still serves and nothing may be unavailable: it stays for now
    assert names(plan.bind) == ["c"]  # within the surge
    failover = plan_rollout(bindings, 2, LATEST, {"rollingUpdate": {"maxUnavailable": 0}}, {"a", "c"})
    assert names(failover.delete) == ["b"]  # b's cluster is lost: removing it costs nothing
    assert names(failover.bind) == ["c"]
