"""Whether an applied object is available, and the status of it the hub sees (``backReportedStatus``).

Workloads are tracked as KubeFleet tracks them (Deployment, StatefulSet, DaemonSet, Service, CRD);
unlike KubeFleet, a ModelDeployment is available only when its Ready condition is True, and its status
travels back to the hub trimmed to what the hub and the gateway read. Other kinds are available once
applied. Pure functions of the member's object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infleet.api.aitoolchain_io.v1.model_deployment import CONDITION_READY, MODEL_DEPLOYMENT
from infleet.api.kubernetes import CUSTOM_RESOURCE_DEFINITION, DEPLOYMENT, SERVICE, STATEFULSET
from infleet.kube.conditions import get_condition

#: The ModelDeployment status fields mirrored to the hub (the sizing and telemetry details stay).
BACK_REPORTED_FIELDS = (
    "observedGeneration",
    "state",
    "replicas",
    "readyReplicas",
    "ready",
    "gpu",
    "endpoint",
    "replicaStatus",
    "conditions",
)

#: The part of status.sizing mirrored with it.
BACK_REPORTED_SIZING = ("sku", "gpusPerReplica", "costPerHour")


@dataclass(frozen=True)
class Availability:
    available: bool
    message: str


def _generation_observed(obj: dict[str, Any]) -> bool:
    generation = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    return generation is None or (observed is not None and int(observed) >= int(generation))


def _counts(obj: dict[str, Any], *fields: str) -> list[int]:
    status = obj.get("status") or {}
    return [int(status.get(name) or 0) for name in fields]


def _deployment(obj: dict[str, Any]) -> Availability:
    wanted = int((obj.get("spec") or {}).get("replicas", 1))
    updated, available = _counts(obj, "updatedReplicas", "availableReplicas")
    if not _generation_observed(obj):
        return Availability(False, "the Deployment controller has not observed the latest spec yet")
    ok = updated >= wanted and available >= wanted
    return Availability(ok, f"{available}/{wanted} replicas available, {updated} updated")


def _statefulset(obj: dict[str, Any]) -> Availability:
    wanted = int((obj.get("spec") or {}).get("replicas", 1))
    ready, updated = _counts(obj, "readyReplicas", "updatedReplicas")
    if not _generation_observed(obj):
        return Availability(False, "the StatefulSet controller has not observed the latest spec yet")
    ok = ready >= wanted and updated >= wanted
    return Availability(ok, f"{ready}/{wanted} replicas ready, {updated} updated")


def _daemonset(obj: dict[str, Any]) -> Availability:
    desired, available, updated = _counts(
        obj, "desiredNumberScheduled", "numberAvailable", "updatedNumberScheduled"
    )
    ok = _generation_observed(obj) and available >= desired and updated >= desired
    return Availability(ok, f"{available}/{desired} pods available, {updated} updated")


def _condition_true(type_: str) -> Callable[[dict[str, Any]], Availability]:
    def check(obj: dict[str, Any]) -> Availability:
        condition = get_condition((obj.get("status") or {}).get("conditions"), type_)
        if condition is None:
            return Availability(False, f"no {type_} condition yet")
        if not _generation_observed(obj):
            return Availability(False, "its controller has not observed the latest spec yet")
        ok = condition.get("status") == "True"
        detail = condition.get("message") or condition.get("reason") or ""
        return Availability(ok, f"{type_}={condition.get('status')}" + (f": {detail}" if detail else ""))

    return check


def _exists(obj: dict[str, Any]) -> Availability:
    return Availability(True, "applied")


_TRACKERS: dict[tuple[str, str], Callable[[dict[str, Any]], Availability]] = {
    (DEPLOYMENT.group, DEPLOYMENT.kind): _deployment,
    (STATEFULSET.group, STATEFULSET.kind): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    (SERVICE.group, SERVICE.kind): _exists,
    (CUSTOM_RESOURCE_DEFINITION.group, CUSTOM_RESOURCE_DEFINITION.kind): _condition_true("Established"),
    (MODEL_DEPLOYMENT.group, MODEL_DEPLOYMENT.kind): _condition_true(CONDITION_READY),
}


def availability(group: str, kind: str, obj: dict[str, Any]) -> Availability:
    """Whether ``obj`` (as the member has it) is available; kinds without a tracker are, once applied."""
    return _TRACKERS.get((group, kind), _exists)(obj)


def back_reported_status(group: str, kind: str, obj: dict[str, Any]) -> dict[str, Any] | None:
    """The status mirrored into the Work for the hub: a trimmed ModelDeployment status, else None."""
    if (group, kind) != (MODEL_DEPLOYMENT.group, MODEL_DEPLOYMENT.kind):
        return None
    status = obj.get("status") or {}
    reported = {name: status[name] for name in BACK_REPORTED_FIELDS if name in status}
    sizing = status.get("sizing") or {}
    # What a gateway needs to weigh this cluster's replicas: their SKU and price; the memory arithmetic stays.
    shape = {name: sizing[name] for name in BACK_REPORTED_SIZING if name in sizing}
    if shape:
        reported["sizing"] = shape
    return reported
