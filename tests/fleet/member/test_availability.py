"""Availability per kind and the ModelDeployment status mirrored to the hub."""

from __future__ import annotations

from typing import Any

from infleet.fleet.member.availability import availability, back_reported_status


def obj(
    spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None, generation: int = 2
) -> dict[str, Any]:
    return {"metadata": {"name": "x", "generation": generation}, "spec": spec or {}, "status": status or {}}


def test_a_deployment_is_available_when_every_replica_is_updated_and_available() -> None:
    ready = {"observedGeneration": 2, "updatedReplicas": 3, "availableReplicas": 3}
    assert availability("apps", "Deployment", obj({"replicas": 3}, ready)).available
    lagging = {**ready, "availableReplicas": 2}
    result = availability("apps", "Deployment", obj({"replicas": 3}, lagging))
    assert not result.available
    assert result.message == "2/3 replicas available, 3 updated"
    stale = {**ready, "observedGeneration": 1}
    assert not availability("apps", "Deployment", obj({"replicas": 3}, stale)).available


def test_a_deployment_without_replicas_wants_one() -> None:
    assert availability(
        "apps", "Deployment", obj({}, {"observedGeneration": 2, "updatedReplicas": 1, "availableReplicas": 1})
    ).available


def test_a_statefulset_needs_ready_and_updated_replicas() -> None:
    status = {"observedGeneration": 2, "readyReplicas": 2, "updatedReplicas": 2}
    assert availability("apps", "StatefulSet", obj({"replicas": 2}, status)).available
    assert not availability(
        "apps", "StatefulSet", obj({"replicas": 2}, {**status, "updatedReplicas": 1})
    ).available


def test_a_daemonset_needs_every_scheduled_pod_available() -> None:
    status = {
        "observedGeneration": 2,
        "desiredNumberScheduled": 3,
        "numberAvailable": 3,
        "updatedNumberScheduled": 3,
    }
    assert availability("apps", "DaemonSet", obj(None, status)).available
    assert not availability("apps", "DaemonSet", obj(None, {**status, "numberAvailable": 1})).available


def test_a_model_deployment_is_available_only_when_ready() -> None:
    ready = {
        "observedGeneration": 2,
        "conditions": [{"type": "Ready", "status": "True", "reason": "Serving"}],
    }
    assert availability("aitoolchain.io", "ModelDeployment", obj(None, ready)).available
    not_ready = {
        "observedGeneration": 2,
        "conditions": [{"type": "Ready", "status": "False", "message": "no GPUs"}],
    }
    result = availability("aitoolchain.io", "ModelDeployment", obj(None, not_ready))
    assert (result.available, result.message) == (False, "Ready=False: no GPUs")
    assert not availability("aitoolchain.io", "ModelDeployment", obj()).available
    assert not availability(
        "aitoolchain.io", "ModelDeployment", obj(None, {**ready, "observedGeneration": 1})
    ).available


def test_a_crd_is_available_once_established() -> None:
    status = {"conditions": [{"type": "Established", "status": "True"}]}
    crd = {"metadata": {"name": "x"}, "status": status}
    assert availability("apiextensions.k8s.io", "CustomResourceDefinition", crd).available


def test_services_data_and_unknown_kinds_are_available_once_applied() -> None:
    for group, kind in (("", "Service"), ("", "ConfigMap"), ("example.com", "Gizmo")):
        assert availability(group, kind, obj()).available


def test_only_model_deployments_report_back_a_trimmed_status() -> None:
    status = {
        "state": "Ready",
        "readyReplicas": 1,
        "endpoint": "http://e",
        "sizing": {"sku": "H100", "costPerHour": 6.2, "memory": {"perGpuGib": 71.0}},
        "serving": {},
    }
    assert back_reported_status("aitoolchain.io", "ModelDeployment", obj(None, status)) == {
        "state": "Ready",
        "readyReplicas": 1,
        "endpoint": "http://e",
        "sizing": {"sku": "H100", "costPerHour": 6.2},  # what gateways weigh; the arithmetic stays
    }
    assert back_reported_status("apps", "Deployment", obj(None, status)) is None
