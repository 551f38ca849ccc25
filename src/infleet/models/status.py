"""The last phase of a reconcile: what the phases found (:class:`Outcome`) becomes status — Sized,
ResourcesReady, InferenceReady and Ready conditions with reasons, the summary state, replica counts,
per-replica endpoints, serving figures and the autoscaler's view. Built as a typed
:class:`ModelDeploymentStatus`, so the writer cannot drift from the schema the CRD publishes. Pure: the
status phase patches the result.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from infleet.api.aitoolchain_io.v1.model_deployment import (
    CONDITION_INFERENCE_READY,
    CONDITION_READY,
    CONDITION_RESOURCES_READY,
    CONDITION_SIZED,
    AutoscalingStatus,
    ModelDeploymentSpec,
    ModelDeploymentStatus,
    Serving,
    Sizing,
)
from infleet.api.conditions import Condition
from infleet.kube.conditions import set_condition, timestamp
from infleet.models.autoscaler import Decision
from infleet.models.readiness import Observed, capacity_condition, inference_condition
from infleet.models.spec_phase import SpecError
from infleet.models.workload import selector_string

log = logging.getLogger(__name__)


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


def _conditions(
    current: ModelDeploymentStatus, outcome: Outcome, generation: int | None, now: float
) -> tuple[list[Condition], tuple[bool, str, str], bool]:
    """The four conditions (lastTransitionTime kept while a status holds), Ready, and ResourcesReady."""
    conditions = [condition.to_wire() for condition in current.conditions or []]

    def condition(type_: str, ok: bool, reason: str, message: str) -> None:
        set_condition(conditions, type_, ok, reason, message, generation, now)

    if outcome.problem is not None:
        condition(CONDITION_SIZED, False, outcome.problem.reason, str(outcome.problem))
    elif outcome.sizing is not None:
        condition(CONDITION_SIZED, True, "Sized", outcome.sizing.reason)
    resources = _resources(outcome)
    condition(CONDITION_RESOURCES_READY, *resources)
    inference = inference_condition(outcome.observed, outcome.desired)
    condition(CONDITION_INFERENCE_READY, *inference)
    ready = _ready(outcome, resources, inference)
    condition(CONDITION_READY, *ready)
    return [Condition.model_validate(c) for c in conditions], ready, resources[0]


def _resources(outcome: Outcome) -> tuple[bool, str, str]:
    observed, desired, sizing = outcome.observed, outcome.desired, outcome.sizing
    if outcome.problem is not None and observed.total_replicas == 0:
        return False, outcome.problem.reason, "no pods created"
    resources = capacity_condition(observed, desired)
    if resources[0] or not observed.unschedulable or sizing is None or sizing.source != "provisionable":
        return resources
    # Sized onto nodes the cluster does not have: the compute layer provisions them from this.
    nodes = desired * sizing.nodes_per_replica
    shape = sizing.instance_type or f"{sizing.gpus_per_node}x{sizing.sku} nodes"
    message = f"needs {nodes} node(s) of {shape} ({sizing.sku}); none in the cluster yet: {resources[2]}"
    return False, "AwaitingNodes", message


def _autoscaling(current: ModelDeploymentStatus, outcome: Outcome, now: float) -> AutoscalingStatus | None:
    """The autoscaler's decision; none once the spec no longer asks for autoscaling."""
    if outcome.spec is not None and outcome.spec.autoscaling is None:
        return None
    decision = outcome.decision
    if decision is None:  # the spec did not parse or fit this time: the last decision stands
        return current.autoscaling
    auto = (current.autoscaling or AutoscalingStatus()).model_copy()
    auto.desired_replicas = decision.replicas
    auto.observed_spec_replicas = outcome.spec.replicas if outcome.spec is not None else None
    auto.reason = decision.reason
    if outcome.last_active_wall is not None:
        auto.last_active_time = timestamp(outcome.last_active_wall)
    if decision.reason not in ("Stable", "ScaledToZero"):
        auto.last_scale_time = timestamp(now)
    return auto


def next_status(
    current: ModelDeploymentStatus, metadata: Mapping[str, Any], outcome: Outcome, now: float
) -> ModelDeploymentStatus:
    """The status to write over ``current`` for what the phases found, at wall time ``now``."""
    name, namespace = metadata["name"], metadata["namespace"]
    observed, sizing = outcome.observed, outcome.sizing
    conditions, ready, resources_ok = _conditions(current, outcome, metadata.get("generation"), now)
    kept_sizing: Sizing | None
    gpu: str | None
    if outcome.problem is None and sizing is not None:
        kept_sizing, gpu = sizing, f"{sizing.gpus_per_replica}x{sizing.sku}"
    else:  # a spec that stops fitting keeps the shape that runs
        kept_sizing, gpu = current.sizing, current.gpu
    return ModelDeploymentStatus(
        observed_generation=metadata.get("generation"),
        state=_state(outcome, ready, resources_ok),
        replicas=observed.total_replicas,
        ready_replicas=observed.ready_replicas,
        updated_replicas=observed.updated_replicas,
        ready=f"{observed.ready_replicas}/{outcome.desired}",
        gpu=gpu,
        selector=selector_string(name),
        endpoint=f"http://{name}.{namespace}.svc:80",
        sizing=kept_sizing,
        replica_status=list(observed.replicas),
        # None when no replica reports figures (none ready, or scaled to zero).
        serving=outcome.serving,
        autoscaling=_autoscaling(current, outcome, now),
        conditions=conditions,
    )


def write_status(status: dict[str, Any], obj: Mapping[str, Any], outcome: Outcome, now: float) -> None:
    """Replace ``status`` (a copy of the object's, edited in place) with :func:`next_status`'s wire form."""
    try:
        current = ModelDeploymentStatus.model_validate(status)
    except ValidationError as error:  # written by another version: start over rather than stall
        metadata = obj["metadata"]
        where = f"{metadata.get('namespace')}/{metadata.get('name')}"
        log.warning("%s: status does not parse, rewriting it: %s", where, error)
        current = ModelDeploymentStatus()
    wanted = next_status(current, obj["metadata"], outcome, now).to_wire()
    status.clear()
    status.update(wanted)
