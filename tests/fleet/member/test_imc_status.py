"""The InternalMemberCluster status a heartbeat writes."""

from __future__ import annotations

from typing import Any

from infleet.fleet.member.imc_status import Report, apply_report
from infleet.fleet.member.properties import ClusterProperties
from infleet.kube.conditions import get_condition

PROPS = ClusterProperties({"kubernetes-fleet.io/node-count": "2"}, {"cpu": "4"}, {"cpu": "4"}, {"cpu": "3"})
T0 = 1_750_000_000.0


def agent_conditions(status: dict[str, Any]) -> list[dict[str, Any]]:
    (agent,) = status["agentStatus"]
    assert agent["type"] == "MemberAgent"
    conditions: list[dict[str, Any]] = agent["conditions"]
    return conditions


def test_a_joined_beat_writes_agent_status_properties_usage_and_collection() -> None:
    status: dict[str, Any] = {}
    apply_report(status, Report(True, T0, 4, True, "ok", PROPS))
    assert status["agentStatus"][0]["lastReceivedHeartbeat"] == "2025-06-15T15:06:40Z"
    joined = get_condition(agent_conditions(status), "Joined")
    healthy = get_condition(agent_conditions(status), "Healthy")
    assert joined is not None
    assert joined["status"] == "True"
    assert joined["observedGeneration"] == 4
    assert healthy is not None
    assert healthy["status"] == "True"
    assert status["properties"] == {
        "kubernetes-fleet.io/node-count": {"value": "2", "observationTime": "2025-06-15T15:06:40Z"}
    }
    assert status["resourceUsage"]["available"] == {"cpu": "3"}
    collected = get_condition(status["conditions"], "ClusterPropertyCollectionSucceeded")
    assert collected is not None
    assert collected["status"] == "True"


def test_an_unhealthy_member_and_a_failed_collection_keep_the_last_properties() -> None:
    status: dict[str, Any] = {}
    apply_report(status, Report(True, T0, 1, True, "ok", PROPS))
    apply_report(status, Report(True, T0 + 60, 1, False, "GET /readyz failed: 503", None, "bad quantity"))
    healthy = get_condition(agent_conditions(status), "Healthy")
    assert healthy is not None
    assert (healthy["status"], healthy["message"]) == (
        "False",
        "GET /readyz failed: 503",
    )
    assert status["properties"]["kubernetes-fleet.io/node-count"]["observationTime"] == "2025-06-15T15:06:40Z"
    collected = get_condition(status["conditions"], "ClusterPropertyCollectionSucceeded")
    assert collected is not None
    assert (collected["status"], collected["message"]) == ("False", "bad quantity")


def test_a_change_write_leaves_health_as_the_last_probe_found_it() -> None:
    status: dict[str, Any] = {}
    apply_report(status, Report(True, T0, 1, False, "down", PROPS))
    apply_report(status, Report(True, T0 + 1, 1, properties=PROPS))
    healthy = get_condition(agent_conditions(status), "Healthy")
    assert healthy is not None
    assert healthy["status"] == "False"


def test_leave_sets_joined_false_and_touches_no_properties() -> None:
    status: dict[str, Any] = {}
    apply_report(status, Report(True, T0, 1, True, "ok", PROPS))
    apply_report(status, Report(False, T0 + 5, 2))
    joined = get_condition(agent_conditions(status), "Joined")
    assert joined is not None
    assert (joined["status"], joined["reason"]) == ("False", "MemberAgentLeft")
    assert status["properties"]["kubernetes-fleet.io/node-count"]["value"] == "2"
