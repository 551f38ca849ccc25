"""Scheduler filters and messages on plain dicts."""

from __future__ import annotations

from typing import Any

import pytest

from infleet.sim.scheduler_filters import (
    filter_node,
    free_resources,
    matches_node_selector,
    pod_requests,
    score_node,
    unschedulable_message,
    untolerated_taint,
)


def node(name: str = "n", gpus: int = 2, ready: bool = True, **labels: str) -> dict[str, Any]:
    allocatable = {"cpu": "8", "memory": "32Gi", "pods": "110"}
    if gpus:
        allocatable["nvidia.com/gpu"] = str(gpus)
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {},
        "status": {
            "allocatable": allocatable,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pod(gpus: int = 0, cpu: str = "500m", memory: str = "1Gi", **spec: Any) -> dict[str, Any]:
    requests: dict[str, str] = {"cpu": cpu, "memory": memory}
    limits = {"nvidia.com/gpu": str(gpus)} if gpus else {}
    return {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"resources": {"requests": requests, "limits": limits}}], **spec},
    }


def test_requests_sum_containers_and_limits_stand_in_for_requests() -> None:
    two = pod(gpus=2)
    two["spec"]["containers"].append({"resources": {"requests": {"cpu": "1"}}})
    requests = pod_requests(two)
    assert requests["cpu"] == 1.5
    assert requests["nvidia.com/gpu"] == 2
    assert requests["pods"] == 1


def test_gpu_fit_counts_pods_already_on_the_node() -> None:
    target = node(gpus=4)
    assert filter_node(pod(gpus=2), target, free_resources(target, [pod(gpus=2)])) == []
    assert filter_node(pod(gpus=2), target, free_resources(target, [pod(gpus=3)])) == [
        "Insufficient nvidia.com/gpu"
    ]
    assert filter_node(pod(cpu="9"), target, free_resources(target, [])) == ["Insufficient cpu"]


def test_not_ready_and_cordoned_nodes_are_filtered() -> None:
    assert filter_node(pod(), node(ready=False), free_resources(node(), [])) != []
    cordoned = node()
    cordoned["spec"]["unschedulable"] = True
    assert filter_node(pod(), cordoned, free_resources(cordoned, [])) == ["node(s) were unschedulable"]


@pytest.mark.parametrize(
    ("expression", "fits"),
    [
        ({"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-H100-80GB-HBM3"]}, True),
        ({"key": "nvidia.com/gpu.product", "operator": "NotIn", "values": ["NVIDIA-H100-80GB-HBM3"]}, False),
        ({"key": "nvidia.com/gpu.count", "operator": "Gt", "values": ["4"]}, True),
        ({"key": "nvidia.com/gpu.count", "operator": "Lt", "values": ["4"]}, False),
        ({"key": "spot", "operator": "DoesNotExist"}, True),
        ({"key": "spot", "operator": "Exists"}, False),
    ],
)
def test_required_node_affinity(expression: dict[str, Any], fits: bool) -> None:
    labels = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.count": "8"}
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [expression]}]
            }
        }
    }
    assert (matches_node_selector(pod(affinity=affinity), node(**labels)) is None) is fits


def test_node_selector() -> None:
    target = node(**{"topology.kubernetes.io/region": "us-east-1"})
    assert (
        matches_node_selector(pod(nodeSelector={"topology.kubernetes.io/region": "us-east-1"}), target)
        is None
    )
    assert (
        matches_node_selector(pod(nodeSelector={"topology.kubernetes.io/region": "eu"}), target) is not None
    )


def test_taints_need_tolerations() -> None:
    tainted = node()
    tainted["spec"]["taints"] = [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}]
    assert untolerated_taint(pod(), tainted) == "node(s) had untolerated taint {sku: gpu}"
    exact = [{"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    assert untolerated_taint(pod(tolerations=exact), tainted) is None
    assert untolerated_taint(pod(tolerations=[{"operator": "Exists"}]), tainted) is None
    wrong = [{"key": "sku", "value": "cpu", "effect": "NoSchedule"}]
    assert untolerated_taint(pod(tolerations=wrong), tainted) is not None
    tainted["spec"]["taints"][0]["effect"] = "PreferNoSchedule"
    assert untolerated_taint(pod(), tainted) is None


def test_gpu_pods_pack_onto_the_fullest_node_that_fits() -> None:
    big, busy = node("big", gpus=8), node("busy", gpus=8)
    request = pod(gpus=2)
    free_big = free_resources(big, [])
    free_busy = free_resources(busy, [pod(gpus=6)])
    assert score_node(request, free_busy, busy) > score_node(request, free_big, big)


def test_unschedulable_message_counts_reasons_like_kube_scheduler() -> None:
    reasons = ["Insufficient nvidia.com/gpu"] * 3
    assert unschedulable_message(3, reasons) == "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    mixed = [
        "Insufficient nvidia.com/gpu",
        "Insufficient cpu",
        "Insufficient nvidia.com/gpu",
        "node(s) were unschedulable",
    ]
    assert unschedulable_message(3, mixed) == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 Insufficient nvidia.com/gpu, "
        "1 node(s) were unschedulable."
    )
    assert unschedulable_message(0, []) == "0/0 nodes are available: no nodes registered."


def test_match_fields_pin_a_pod_to_one_node_by_name() -> None:
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}
    affinity = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}
    }
    assert matches_node_selector(pod(affinity=affinity), node("n1")) is None
    assert matches_node_selector(pod(affinity=affinity), node("n2")) is not None


def test_a_pod_tolerating_the_cordon_and_not_ready_taints_may_go_to_such_nodes() -> None:
    cordoned = node()
    cordoned["spec"]["unschedulable"] = True
    unready = node(ready=False)
    free = free_resources(cordoned, [])
    assert filter_node(pod(), cordoned, free) == ["node(s) were unschedulable"]
    assert filter_node(pod(), unready, free) == [
        "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
    ]
    tolerations = [
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists"},
    ]
    assert filter_node(pod(tolerations=tolerations), cordoned, free) == []
    assert filter_node(pod(tolerations=tolerations), unready, free) == []
