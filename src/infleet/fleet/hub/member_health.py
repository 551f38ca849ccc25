"""Whether a member cluster is healthy, judged on the hub from what its agent last wrote.

KubeFleet documents its Healthy condition as "currently unused"; here it is real. A member is unhealthy
when its heartbeat is stale or its agent says so, and unknown when its agent never reported. The verdict
also says when a fresh heartbeat goes stale, because a dead cluster writes nothing the hub could react to
(KubeFleet #907): the membership controller requeues itself for that moment. Pure: time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import CONDITION_HEALTHY, MEMBER_AGENT
from infleet.fleet.hub.hub_settings import HubSettings
from infleet.kube.conditions import get_condition, timestamp

HEARTBEAT_FRESH = "HeartbeatFresh"
HEARTBEAT_TIMEOUT = "HeartbeatTimeout"
AGENT_REPORTED_UNHEALTHY = "AgentReportedUnhealthy"
AGENT_NOT_REPORTING = "AgentNotReporting"


@dataclass(frozen=True)
class HealthVerdict:
    """The Healthy condition to write, and the wall time at which it must be judged again (or None)."""

    status: str
    reason: str
    message: str
    recheck_at: float | None = None


def parse_time(value: object) -> float | None:
    """Seconds since the epoch of an RFC 3339 time (``Z`` or an offset); None when absent or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def member_agent_status(status: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``agentStatus`` entry of the member agent in an (Internal)MemberCluster status."""
    return next(
        (entry for entry in (status or {}).get("agentStatus") or [] if entry.get("type") == MEMBER_AGENT),
        None,
    )


def evaluate_health(
    agent: dict[str, Any] | None,
    heartbeat_period_seconds: float,
    now: float,
    settings: HubSettings,
    previous: dict[str, Any] | None = None,
) -> HealthVerdict:
    """Judge the member agent's last report (``agent``: its agentStatus entry) at wall time ``now``.

    A stale heartbeat outranks what the agent said, since that report is old news. ``previous`` is the
    Healthy condition written before: a timeout message keeps the age it was written with, so judging
    the same silence again writes nothing.
    """
    heartbeat = parse_time((agent or {}).get("lastReceivedHeartbeat"))
    if heartbeat is None:
        return HealthVerdict("Unknown", AGENT_NOT_REPORTING, "the member agent has not reported yet")
    threshold = settings.heartbeat_timeout(heartbeat_period_seconds)
    age = now - heartbeat
    if age > threshold:
        return HealthVerdict(
            "False", HEARTBEAT_TIMEOUT, _timeout_message(heartbeat, age, threshold, previous)
        )
    stale_at = heartbeat + threshold
    reported = get_condition((agent or {}).get("conditions"), CONDITION_HEALTHY)
    if reported is not None and reported.get("status") == "False":
        message = str(
            reported.get("message") or reported.get("reason") or "the member agent reports unhealthy"
        )
        return HealthVerdict("False", AGENT_REPORTED_UNHEALTHY, message, stale_at)
    # No age here: a message that changed on every reconcile would be a status write on every reconcile.
    message = f"the member agent heartbeats; unhealthy after {threshold:g}s without one"
    return HealthVerdict("True", HEARTBEAT_FRESH, message, stale_at)


def _timeout_message(heartbeat: float, age: float, threshold: float, previous: dict[str, Any] | None) -> str:
    since = f"last heartbeat at {timestamp(heartbeat)}"
    old = str((previous or {}).get("message") or "")
    if (previous or {}).get("reason") == HEARTBEAT_TIMEOUT and since in old:
        return old
    return f"no heartbeat from the member agent for {age:.0f}s ({since}; threshold {threshold:g}s)"
