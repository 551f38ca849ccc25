"""A hub ModelDeployment's status, summed from what member agents back-reported in their Works.

Each member's trimmed ModelDeployment status becomes one ``ClusterServing`` entry; the hub-level
replicas, readyReplicas and ready ("ready/desired") are sums over them, and the hub state reads:
Ready when any member serves (one serving cluster answers requests), Failed or ScaledToZero when every
member says so, Pending when no member holds it, Progressing otherwise. Pure: the status mirror writes it.
"""

from __future__ import annotations

from typing import Any

from infleet.api.aitoolchain_io.v1.model_deployment import CONDITION_READY, ClusterServing, ServingReplica
from infleet.kube.conditions import get_condition, set_condition

SERVING = "ServingInClusters"
NOT_SERVING = "NoClusterReady"
NOT_PLACED = "NotPlaced"


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def cluster_serving(cluster: str, reported: dict[str, Any] | None) -> ClusterServing:
    """One member's entry from its back-reported status (None: the Work holds it, no report yet)."""
    if reported is None:
        return ClusterServing(cluster_name=cluster, state="Pending", message="not reported by the member yet")
    ready_condition = get_condition(reported.get("conditions"), CONDITION_READY)
    ready_replicas = _int(reported.get("readyReplicas"))
    # A member that reports no Ready condition is judged by its ready replicas.
    ready = bool(ready_replicas) if ready_condition is None else ready_condition.get("status") == "True"
    serving = [
        ServingReplica(
            name=str(replica.get("name") or ""), endpoint=str(replica["endpoint"]), sku=replica.get("sku")
        )
        for replica in reported.get("replicaStatus") or []
        if replica.get("ready") and replica.get("endpoint")
    ]
    cost = (reported.get("sizing") or {}).get("costPerHour")
    return ClusterServing(
        cluster_name=cluster,
        state=reported.get("state"),
        ready=ready,
        replicas=_int(reported.get("replicas")),
        ready_replicas=ready_replicas,
        gpu=reported.get("gpu"),
        endpoints=[replica.endpoint for replica in serving] or None,
        serving_replicas=serving or None,
        cost_per_replica_hour=float(cost) if isinstance(cost, int | float) else None,
        message=str((ready_condition or {}).get("message") or "") or None,
    )


def hub_state(entries: list[ClusterServing]) -> str:
    if not entries:
        return "Pending"
    if any(entry.ready for entry in entries):
        return "Ready"
    states = {entry.state for entry in entries}
    if states in ({"Failed"}, {"ScaledToZero"}):
        return states.pop() or "Progressing"
    return "Progressing"


def _ready_message(entries: list[ClusterServing]) -> tuple[bool, str, str]:
    if not entries:
        return False, NOT_PLACED, "no member cluster holds it (see its ClusterResourcePlacement)"
    ready = [entry for entry in entries if entry.ready]
    listed = ", ".join(
        f"{entry.cluster_name} ({entry.ready_replicas or 0}/{entry.replicas or 0})"
        for entry in (ready or entries)
    )
    if ready:
        return True, SERVING, f"serving in {listed}"
    return False, NOT_SERVING, f"placed in {listed}; none ready yet"


def write_hub_status(
    status: dict[str, Any], entries: list[ClusterServing], generation: int | None, now: float
) -> None:
    """Mutate a hub ModelDeployment's status: clusters, sums, state, gpu and the Ready condition."""
    status["clusters"] = [entry.to_wire() for entry in entries]
    replicas = sum(entry.replicas or 0 for entry in entries)
    ready_replicas = sum(entry.ready_replicas or 0 for entry in entries)
    status["replicas"] = replicas
    status["readyReplicas"] = ready_replicas
    status["ready"] = f"{ready_replicas}/{replicas}"
    status["state"] = hub_state(entries)
    gpus = sorted({entry.gpu for entry in entries if entry.gpu})
    if gpus:
        status["gpu"] = ",".join(gpus)
    else:
        status.pop("gpu", None)
    conditions = status.setdefault("conditions", [])
    set_condition(conditions, CONDITION_READY, *_ready_message(entries), generation, now)


def keep_observed_times(
    entries: list[ClusterServing], previous: list[dict[str, Any]] | None, now: str
) -> None:
    """Stamp each entry with when the hub saw it change: unchanged entries keep their earlier time."""
    before = {str(item.get("clusterName")): item for item in previous or []}
    for entry in entries:
        old = dict(before.get(entry.cluster_name) or {})
        old_time = old.pop("observedTime", None)
        entry.observed_time = old_time if old_time and old == entry.to_wire() else now
