"""Status from the phases' outcome: conditions, reasons and the summary state."""

from __future__ import annotations

from typing import Any

from infleet.api.aitoolchain_io.v1.model_deployment import (
    MemoryBudget,
    ModelDeploymentSpec,
    ModelDeploymentStatus,
    Sizing,
)
from infleet.kube.conditions import get_condition
from infleet.models.readiness import Observed
from infleet.models.spec_phase import SpecError
from infleet.models.status import Outcome, write_status

OBJ = {"metadata": {"name": "chat", "namespace": "ns", "generation": 4}}


def status_of(outcome: Outcome) -> dict[str, Any]:
    status: dict[str, Any] = {}
    write_status(status, OBJ, outcome, now=1_750_000_000.0)
    return status


def condition(status: dict[str, Any], type_: str) -> tuple[str, str]:
    found = get_condition(status["conditions"], type_) or {}
    assert found.get("observedGeneration") == 4
    return found["status"], found["reason"]


def test_a_spec_that_stops_fitting_keeps_serving_and_says_why() -> None:
    observed = Observed(ready_replicas=2, updated_replicas=2, total_replicas=2)
    problem = SpecError("DoesNotFit", "spec.resources.gpu=1: ...")
    status = status_of(
        Outcome(spec=ModelDeploymentSpec(model="x"), problem=problem, observed=observed, desired=2)
    )
    assert condition(status, "Sized") == ("False", "DoesNotFit")
    assert condition(status, "Ready") == ("False", "DoesNotFit")
    assert condition(status, "InferenceReady") == ("True", "Serving")
    assert status["state"] == "Progressing"


def test_unschedulable_with_nothing_ready_is_pending() -> None:
    observed = Observed(total_replicas=3, unschedulable=["pod a: 0/4 nodes: Insufficient nvidia.com/gpu"])
    status = status_of(Outcome(spec=ModelDeploymentSpec(model="x"), observed=observed, desired=3))
    assert condition(status, "ResourcesReady") == ("False", "InsufficientGPU")
    assert condition(status, "Ready") == ("False", "InsufficientGPU")
    assert (status["state"], status["ready"]) == ("Pending", "0/3")


def test_scaled_to_zero_is_ready_and_not_serving() -> None:
    status = status_of(Outcome(spec=ModelDeploymentSpec(model="x"), observed=Observed(), desired=0))
    assert condition(status, "Ready") == ("True", "ScaledToZero")
    assert condition(status, "InferenceReady") == ("False", "ScaledToZero")
    assert status["state"] == "ScaledToZero"


def test_crash_looping_replicas_name_the_reason() -> None:
    observed = Observed(total_replicas=1, failing=["pod chat-0: CrashLoopBackOff"])
    status = status_of(Outcome(spec=ModelDeploymentSpec(model="x"), observed=observed, desired=1))
    assert condition(status, "InferenceReady") == ("False", "CrashLoopBackOff")
    assert status["selector"] == "aitoolchain.io/model-deployment=chat"


def test_pods_waiting_for_provisionable_nodes_say_what_to_provision() -> None:
    sizing = Sizing(
        model="m",
        sku="H100",
        gpus_per_replica=8,
        gpus_per_node=8,
        tensor_parallel=8,
        max_model_len=8192,
        kv_cache_tokens=1,
        kv_bytes_per_token=1,
        memory=MemoryBudget(per_gpu_gib=72, weights_gib=1, overhead_gib=2.3, kv_cache_gib=1),
        cost_per_hour=19.92,
        source="provisionable",
        instance_type="p5.48xlarge",
    )
    observed = Observed(total_replicas=2, unschedulable=["pod a: node(s) didn't match Pod's node selector"])
    status = status_of(
        Outcome(spec=ModelDeploymentSpec(model="m"), sizing=sizing, observed=observed, desired=2)
    )
    assert condition(status, "ResourcesReady") == ("False", "AwaitingNodes")
    message = (get_condition(status["conditions"], "ResourcesReady") or {})["message"]
    assert message.startswith("needs 2 node(s) of p5.48xlarge (H100)")


def test_status_is_the_typed_schema_and_a_second_write_changes_nothing() -> None:
    outcome = Outcome(spec=ModelDeploymentSpec(model="x"), observed=Observed(), desired=1)
    first = status_of(outcome)
    assert ModelDeploymentStatus.model_validate(first).to_wire() == first
    again = dict(first)
    write_status(again, OBJ, outcome, now=1_750_000_100.0)
    assert again == first, "lastTransitionTime holds while no condition changes"


def test_a_status_that_does_not_parse_is_rewritten_not_fatal() -> None:
    status: dict[str, Any] = {"state": "Ready", "fieldOfAnotherVersion": 1}
    write_status(status, OBJ, Outcome(spec=ModelDeploymentSpec(model="x"), desired=0), now=1_750_000_000.0)
    assert "fieldOfAnotherVersion" not in status
    assert status["state"] == "ScaledToZero"
