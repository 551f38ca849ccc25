"""Readiness: what a ModelDeployment's pods say about it — ready and updated replicas, per-replica
endpoint, node and SKU, pods that cannot be scheduled for lack of GPUs, and pods that keep failing.

The reconciler's observe phase calls :func:`observe` with the cached pods, nodes and workloads, then
:func:`capacity_condition` and :func:`inference_condition` for ResourcesReady and InferenceReady.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infleet.api.aitoolchain_io.v1.model_deployment import ReplicaStatus
from infleet.api.catalog import Catalog
from infleet.api.labels import (
    ENDPOINT_ANNOTATION,
    ENGINE_PORT_ANNOTATION,
    GPU_RESOURCE,
    POD_INDEX_LABEL,
    REPLICA_GROUP_LABEL,
)
from infleet.api.offerings import node_gpu
from infleet.kube.conditions import get_condition
from infleet.models import engines

_FAILING = {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "OOMKilled"}


@dataclass
class Observed:
    replicas: list[ReplicaStatus] = field(default_factory=list)
    ready_replicas: int = 0
    updated_replicas: int = 0
    total_replicas: int = 0
    unschedulable: list[str] = field(default_factory=list)
    failing: list[str] = field(default_factory=list)
    endpoints: dict[str, str] = field(default_factory=dict)


def pod_ready(pod: Mapping[str, Any]) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    condition = get_condition((pod.get("status") or {}).get("conditions"), "Ready")
    return condition is not None and condition.get("status") == "True"


def pod_endpoint(pod: Mapping[str, Any]) -> str | None:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    if annotations.get(ENDPOINT_ANNOTATION):
        return str(annotations[ENDPOINT_ANNOTATION])
    ip = (pod.get("status") or {}).get("podIP")
    port = annotations.get(ENGINE_PORT_ANNOTATION) or engines.PORT
    return f"http://{ip}:{port}" if ip else None


def _failure(pod: Mapping[str, Any]) -> str | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        state = status.get("state") or {}
        last = (status.get("lastState") or {}).get("terminated") or {}
        reason = (state.get("waiting") or {}).get("reason") or (state.get("terminated") or {}).get("reason")
        if reason in _FAILING:
            return f"pod {pod['metadata']['name']}: {reason}"
        if last.get("reason") == "OOMKilled":
            return f"pod {pod['metadata']['name']}: OOMKilled (restarts {status.get('restartCount', 0)})"
    return None


def observe(
    pods: list[dict[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]],
    workloads: list[dict[str, Any]],
    catalog: Catalog,
    multi_node: bool,
) -> Observed:
    """Replica-level state; a multi-node replica is ready when every pod of its group is."""
    out = Observed()
    for workload in workloads:
        status = workload.get("status") or {}
        if multi_node:
            want = (workload.get("spec") or {}).get("replicas", 0)
            out.total_replicas += 1
            group_ready = status.get("readyReplicas", 0) >= want > 0
            out.ready_replicas += int(group_ready)
            out.updated_replicas += int(status.get("updatedReplicas", 0) >= want)
        else:
            out.total_replicas += status.get("replicas", 0)
            out.ready_replicas += status.get("readyReplicas", 0)
            out.updated_replicas += status.get("updatedReplicas", 0)
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        metadata = pod["metadata"]
        node_name = (pod.get("spec") or {}).get("nodeName")
        node = nodes.get(node_name) if node_name else None
        found = node_gpu(catalog, node) if node is not None else None
        ready = pod_ready(pod)
        endpoint = pod_endpoint(pod)
        labels = metadata.get("labels") or {}
        is_leader = not multi_node or str(labels.get(POD_INDEX_LABEL, "0")) == "0"
        if is_leader:
            out.replicas.append(
                ReplicaStatus(
                    name=labels.get(REPLICA_GROUP_LABEL) or metadata["name"],
                    ready=ready,
                    node=node_name,
                    sku=found[0].name if found else None,
                    endpoint=endpoint,
                )
            )
            if ready and endpoint:
                out.endpoints[metadata["name"]] = endpoint
        scheduled = get_condition((pod.get("status") or {}).get("conditions"), "PodScheduled")
        if scheduled is not None and scheduled.get("status") == "False":
            out.unschedulable.append(
                f"pod {metadata['name']}: {scheduled.get('message') or scheduled.get('reason')}"
            )
        failure = _failure(pod)
        if failure:
            out.failing.append(failure)
    return out


def capacity_condition(observed: Observed, desired: int) -> tuple[bool, str, str]:
    """(status, reason, message) of ResourcesReady; the compute layer provisions from InsufficientGPU."""
    if desired == 0:
        return True, "ScaledToZero", "no replicas requested"
    if observed.unschedulable:
        gpu = any(GPU_RESOURCE in message for message in observed.unschedulable)
        reason = "InsufficientGPU" if gpu else "Unschedulable"
        more = f" (+{len(observed.unschedulable) - 1} more)" if len(observed.unschedulable) > 1 else ""
        return False, reason, observed.unschedulable[0] + more
    if observed.total_replicas < desired:
        return False, "Creating", f"{observed.total_replicas} of {desired} replicas created"
    return True, "Scheduled", f"{desired} replicas placed on GPU nodes"


def inference_condition(observed: Observed, desired: int) -> tuple[bool, str, str]:
    """(status, reason, message) of InferenceReady: at least one replica answers."""
    if desired == 0 and observed.ready_replicas == 0:
        return False, "ScaledToZero", "scaled to zero; a request through the gateway wakes it"
    if observed.ready_replicas > 0:
        return True, "Serving", f"{observed.ready_replicas} of {desired} replicas serve"
    if observed.failing:
        reason = observed.failing[0].rsplit(": ", 1)[-1].split(" ")[0]
        return False, reason, "; ".join(observed.failing[:3])
    return False, "Starting", "no replica is ready yet (pulling the image or loading weights)"
