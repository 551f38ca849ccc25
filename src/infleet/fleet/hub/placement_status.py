"""A placement's status from what the other controllers wrote: the scheduler's decisions (policy
snapshot status), each binding's conditions (work generator) and the selected objects. KubeFleet's
condition pipeline: Scheduled, RolloutStarted, Overridden, WorkSynchronized, Applied, Available, each
True only when every picked cluster says so; evaluation stops at the first that is not True.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infleet.api.labels import RESOURCE_INDEX_LABEL
from infleet.api.placement_kubernetes_fleet_io.v1beta1.placement import PIPELINE, SCHEDULED
from infleet.fleet.hub.placement_kinds import PlacementKinds
from infleet.fleet.hub.snapshots import resource_index_of
from infleet.kube.conditions import get_condition, set_condition

#: Placement-level reasons per condition: (all True, some False, still pending).
REASONS = {
    SCHEDULED: ("SchedulingPolicyFulfilled", "SchedulingPolicyUnfulfilled", "SchedulePending"),
    "RolloutStarted": ("RolloutStarted", "RolloutNotStartedYet", "RolloutNotStartedYet"),
    "Overridden": ("NoOverrideSpecified", "OverriddenFailed", "OverriddenPending"),
    "WorkSynchronized": ("WorkSynchronized", "WorkNotSynchronizedYet", "WorkNotSynchronizedYet"),
    "Applied": ("ApplySucceeded", "ApplyFailed", "ApplyPending"),
    "Available": ("ResourceAvailable", "ResourceNotAvailableYet", "ResourceNotAvailableYet"),
}


@dataclass(frozen=True)
class StatusInputs:
    """Everything the status is computed from, read by the placement controller."""

    placement: dict[str, Any]
    policy_snapshot: dict[str, Any] | None
    resource_snapshot: dict[str, Any] | None
    bindings: Sequence[dict[str, Any]]
    selected: Sequence[dict[str, Any]]


def build_status(kinds: PlacementKinds, inputs: StatusInputs, now: float) -> dict[str, Any]:
    """The placement's new status (conditions keep their transition times from the old one)."""
    old = inputs.placement.get("status") or {}
    generation = int(inputs.placement["metadata"].get("generation") or 1)
    active = sorted(
        (b for b in inputs.bindings if (b.get("spec") or {}).get("state") != "Unscheduled"),
        key=lambda b: str(b["spec"].get("targetCluster")),
    )
    status: dict[str, Any] = {
        "selectedResources": [_identifier(obj) for obj in inputs.selected],
        "placementStatuses": _cluster_statuses(inputs, active),
        "unselectedClusters": _unselected(inputs.policy_snapshot),
        "conditions": [dict(c) for c in old.get("conditions") or []],
    }
    if inputs.resource_snapshot is not None:
        index = (inputs.resource_snapshot["metadata"].get("labels") or {}).get(RESOURCE_INDEX_LABEL)
        status["observedResourceIndex"] = index
    _pipeline(kinds, status["conditions"], inputs, active, generation, now)
    return status


def _identifier(obj: dict[str, Any]) -> dict[str, Any]:
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    identifier = {
        "group": group,
        "version": version,
        "kind": obj.get("kind", ""),
        "name": obj["metadata"]["name"],
    }
    if obj["metadata"].get("namespace"):
        identifier["namespace"] = obj["metadata"]["namespace"]
    return identifier


def _cluster_statuses(inputs: StatusInputs, active: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    statuses = []
    for binding in active:
        spec = binding["spec"]
        decision = spec.get("clusterDecision") or {}
        conditions = [
            {
                "type": SCHEDULED,
                "status": "True",
                "reason": "Scheduled",
                "message": decision.get("reason", ""),
            },
            *[c for c in (binding.get("status") or {}).get("conditions") or [] if c.get("type") != SCHEDULED],
        ]
        entry: dict[str, Any] = {
            "clusterName": spec["targetCluster"],
            "conditions": _timed(conditions, binding),
        }
        snapshot = str(spec.get("resourceSnapshotName") or "")
        if snapshot:
            entry["observedResourceIndex"] = resource_index_of(snapshot)
        failed = (binding.get("status") or {}).get("failedPlacements")
        if failed:
            entry["failedPlacements"] = failed
        statuses.append(entry)
    wanted = _wanted(inputs.placement)
    for _ in range(max(0, wanted - len(statuses)) if wanted is not None else 0):
        statuses.append(
            {
                "clusterName": "",
                "conditions": [
                    {
                        "type": SCHEDULED,
                        "status": "False",
                        "reason": "ScheduleFailed",
                        "message": "no cluster fits this slot; see status.unselectedClusters",
                    }
                ],
            }
        )
    return statuses


def _timed(conditions: list[dict[str, Any]], binding: dict[str, Any]) -> list[dict[str, Any]]:
    stamp = binding["metadata"].get("creationTimestamp")
    return [{**c, "lastTransitionTime": c.get("lastTransitionTime") or stamp} for c in conditions]


def _wanted(placement: dict[str, Any]) -> int | None:
    """How many clusters the policy asks for; None for PickAll."""
    policy = (placement.get("spec") or {}).get("policy") or {}
    kind = policy.get("placementType", "PickAll")
    if kind == "PickN":
        return int(policy.get("numberOfClusters") or 0)
    if kind == "PickFixed":
        return len(policy.get("clusterNames") or [])
    return None


def _unselected(policy_snapshot: dict[str, Any] | None) -> list[dict[str, Any]]:
    decisions = ((policy_snapshot or {}).get("status") or {}).get("targetClusters") or []
    return [
        {"clusterName": d["clusterName"], "reason": d.get("reason", "")}
        for d in decisions
        if not d.get("selected")
    ][:20]


def _pipeline(
    kinds: PlacementKinds,
    conditions: list[dict[str, Any]],
    inputs: StatusInputs,
    active: Sequence[dict[str, Any]],
    generation: int,
    now: float,
) -> None:
    scheduled = get_condition(
        ((inputs.policy_snapshot or {}).get("status") or {}).get("conditions"), SCHEDULED
    )
    verdict = scheduled.get("status", "Unknown") if scheduled else "Unknown"
    message = scheduled.get("message", "") if scheduled else "waiting for the scheduler"
    _set(kinds, conditions, SCHEDULED, verdict, message, generation, now)
    for kind in PIPELINE[1:]:
        if verdict != "True":
            conditions[:] = [c for c in conditions if c.get("type") != kinds.condition(kind)]
            continue
        verdict, message = _aggregate(kind, active)
        _set(kinds, conditions, kind, verdict, message, generation, now)


def _aggregate(kind: str, active: Sequence[dict[str, Any]]) -> tuple[str, str]:
    if not active:
        return "Unknown", "no cluster is picked"
    states: dict[str, list[str]] = {"True": [], "False": [], "Unknown": []}
    for binding in active:
        condition = get_condition((binding.get("status") or {}).get("conditions"), kind)
        states[condition.get("status", "Unknown") if condition else "Unknown"].append(
            binding["spec"]["targetCluster"]
        )
    if states["False"]:
        return "False", f"{kind} is False on {', '.join(states['False'])}"
    if states["Unknown"]:
        return "Unknown", f"waiting for {', '.join(states['Unknown'])}"
    return "True", f"{kind} on all {len(active)} clusters"


def _set(
    kinds: PlacementKinds,
    conditions: list[dict[str, Any]],
    kind: str,
    verdict: str,
    message: str,
    generation: int,
    now: float,
) -> None:
    true, false, pending = REASONS[kind]
    reason = {"True": true, "False": false}.get(verdict, pending)
    set_condition(conditions, kinds.condition(kind), verdict, reason, message, generation, now)
