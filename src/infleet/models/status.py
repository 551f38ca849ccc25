"""The last phase of a reconcile: what the phases found (:class:`Outcome`) becomes status — Sized,
ResourcesReady, InferenceReady and Ready conditions with reasons, the summary state, replica counts,
per-replica endpoints, serving figures and the autoscaler's view. Pure: the reconciler patches the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infleet.api.aitoolchain_io.v1.model_deployment import (
    CONDITION_INFERENCE_READY,
    CONDITION_READY,
    CONDITION_RESOURCES_READY,
    CONDITION_SIZED,
    AutoscalingStatus,
    ModelDeploymentSpec,
    Serving,
    Sizing,
)
from infleet.kube.conditions import set_condition, timestamp
from infleet.models.autoscaler import Decision
from infleet.models.readiness import Observed, capacity_condition, inference_condition
from infleet.models.spec_phase import SpecError
from infleet.models.workload import selector_string


@dataclass
class Outcome:
    """What the phases found."""

    spec: ModelDeploymentSpec | None = None
    sizing: Sizing | None = None
    problem: SpecError | None = None
    observed: Observed = field(default_factory=Observed)
    decision: Decision | None = None
    desired: int = 0
    serving: Serving | None = None
    last_active_wall: float | None = None


def _ready(
    outcome: Outcome, resources: tuple[bool, str, str], inference: tuple[bool, str, str]
) -> tuple[bool, str, str]:
    observed, desired = outcome.observed, outcome.desired
    converged = (
        observed.ready_replicas >= desired
        and observed.updated_replicas >= desired
        and observed.total_replicas <= desired
    )
    if outcome.problem is not None:
        return False, outcome.problem.reason, str(outcome.problem)
    if desired == 0 and converged:
        return True, "ScaledToZero", "scaled to zero; wakes on demand"
    if converged:
        return True, "AllReplicasReady", f"{desired} of {desired} replicas ready"
    if not resources[0]:
        return resources
    reason = inference[1] if observed.ready_replicas == 0 else "Progressing"
    return False, reason, f"{observed.ready_replicas} of {desired} replicas ready"


def _state(outcome: Outcome, ready: tuple[bool, str, str], resources_ok: bool) -> str:
    observed = outcome.observed
    if outcome.problem is not None and observed.ready_replicas == 0:
        return "Failed"
    if ready[1] == "ScaledToZero":
        return "ScaledToZero"
    if ready[0]:
        return "Ready"
    if observed.ready_replicas == 0 and not resources_ok and outcome.problem is None:
        return "Pending"
    return "Progressing"


def write_status(status: dict[str, Any], obj: dict[str, Any], outcome: Outcome, now: float) -> None:
    """Update ``status`` (a copy of the object's) in place from ``outcome`` at wall time ``now``."""
    generation = obj["metadata"].get("generation")
    name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]
    observed, desired = outcome.observed, outcome.desired
    conditions: list[dict[str, Any]] = status.setdefault("conditions", [])

    def condition(type_: str, ok: bool, reason: str, message: str) -> None:
        set_condition(conditions, type_, ok, reason, message, generation, now)

    status["observedGeneration"] = generation
    if outcome.problem is not None:
        condition(CONDITION_SIZED, False, outcome.problem.reason, str(outcome.problem))
    elif outcome.sizing is not None:
        status["sizing"] = outcome.sizing.to_wire()
        status["gpu"] = f"{outcome.sizing.gpus_per_replica}x{outcome.sizing.sku}"
        condition(CONDITION_SIZED, True, "Sized", outcome.sizing.reason)
    resources = capacity_condition(observed, desired)
    sizing = outcome.sizing
    if (
        not resources[0]
        and observed.unschedulable
        and sizing is not None
        and sizing.source == "provisionable"
    ):
        # Sized onto nodes the cluster does not have: the compute layer provisions them from this.
        nodes = desired * sizing.nodes_per_replica
        shape = sizing.instance_type or f"{sizing.gpus_per_node}x{sizing.sku} nodes"
        resources = (
            False,
            "AwaitingNodes",
            f"needs {nodes} node(s) of {shape} ({sizing.sku}); none in the cluster yet: {resources[2]}",
        )
    if outcome.problem is not None and observed.total_replicas == 0:
        resources = (False, outcome.problem.reason, "no pods created")
    condition(CONDITION_RESOURCES_READY, *resources)
    inference = inference_condition(observed, desired)
    condition(CONDITION_INFERENCE_READY, *inference)
    ready = _ready(outcome, resources, inference)
    condition(CONDITION_READY, *ready)
    status["state"] = _state(outcome, ready, resources[0])
    status["replicas"] = observed.total_replicas
    status["readyReplicas"] = observed.ready_replicas
    status["updatedReplicas"] = observed.updated_replicas
    status["ready"] = f"{observed.ready_replicas}/{desired}"
    status["selector"] = selector_string(name)
    status["endpoint"] = f"http://{name}.{namespace}.svc:80"
    status["replicaStatus"] = [replica.to_wire() for replica in observed.replicas]
    if outcome.serving is not None:
        status["serving"] = outcome.serving.to_wire()
    else:
        status.pop("serving", None)  # no replica reports figures (none ready, or scaled to zero)
    if outcome.decision is not None:
        auto = AutoscalingStatus.model_validate(status.get("autoscaling") or {})
        auto.desired_replicas = outcome.decision.replicas
        auto.reason = outcome.decision.reason
        if outcome.last_active_wall is not None:
            auto.last_active_time = timestamp(outcome.last_active_wall)
        if outcome.decision.reason not in ("Stable", "ScaledToZero"):
            auto.last_scale_time = timestamp(now)
        status["autoscaling"] = auto.to_wire()
