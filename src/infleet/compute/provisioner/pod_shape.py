"""What a pending pod asks of a node, as the provisioner packs it: GPUs, CPU, memory, the node labels it
selects (nodeSelector and required node affinity ``In`` terms), its tolerations and its replica group.
And which pods the provisioner acts on: unschedulable ones that want GPUs or a given instance type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from infleet.api.labels import GPU_RESOURCE, INSTANCE_TYPE_LABEL, REPLICA_GROUP_LABEL
from infleet.api.quantity import parse_quantity
from infleet.kube.conditions import get_condition


@dataclass(frozen=True)
class Resources:
    gpus: int = 0
    cpu_m: int = 0
    memory_mib: int = 0
    pods: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.gpus + other.gpus,
            self.cpu_m + other.cpu_m,
            self.memory_mib + other.memory_mib,
            self.pods + other.pods,
        )

    def fits(self, capacity: Resources) -> bool:
        return (
            self.gpus <= capacity.gpus
            and self.cpu_m <= capacity.cpu_m
            and self.memory_mib <= capacity.memory_mib
            and self.pods <= capacity.pods
        )


@dataclass(frozen=True)
class PodShape:
    key: str  # namespace/name
    uid: str
    requests: Resources
    selector: tuple[tuple[str, tuple[str, ...]], ...]  # label -> allowed values, sorted
    tolerations: tuple[tuple[tuple[str, str], ...], ...]
    group: str | None = None  # namespace/replica-group: multi-node replicas land in one region

    @property
    def signature(self) -> tuple[Any, ...]:
        """Pods with equal signatures may share a new node without further checks."""
        return (self.selector, self.tolerations, self.group)

    def selects(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(key) in values for key, values in self.selector)


def _quantity(value: Any) -> Decimal:
    return parse_quantity(value) if value is not None else Decimal(0)


def requests_of(pod: Mapping[str, Any]) -> Resources:
    gpus, cpu, memory = Decimal(0), Decimal(0), Decimal(0)
    for container in (pod.get("spec") or {}).get("containers") or []:
        resources = container.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        gpus += _quantity(requests.get(GPU_RESOURCE, limits.get(GPU_RESOURCE)))
        cpu += _quantity(requests.get("cpu"))
        memory += _quantity(requests.get("memory"))
    return Resources(int(gpus), int(cpu * 1000), int(memory / (1024 * 1024)), 1)


def _selector(spec: Mapping[str, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    wanted: dict[str, set[str]] = {k: {str(v)} for k, v in (spec.get("nodeSelector") or {}).items()}
    affinity = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = affinity.get("nodeSelectorTerms") or []
    # Only a single term is read (the usual form); In narrows, other operators are left to the scheduler.
    for expression in (terms[0].get("matchExpressions") or []) if len(terms) == 1 else []:
        if expression.get("operator") == "In":
            values = {str(v) for v in expression.get("values") or []}
            key = expression["key"]
            wanted[key] = wanted[key] & values if key in wanted else values
    return tuple(sorted((key, tuple(sorted(values))) for key, values in wanted.items()))


def pod_shape(pod: Mapping[str, Any]) -> PodShape:
    metadata, spec = pod["metadata"], pod.get("spec") or {}
    namespace = metadata.get("namespace", "")
    group = (metadata.get("labels") or {}).get(REPLICA_GROUP_LABEL)
    tolerations = tuple(
        sorted(tuple(sorted((k, str(v)) for k, v in t.items())) for t in spec.get("tolerations") or [])
    )
    return PodShape(
        f"{namespace}/{metadata['name']}",
        metadata.get("uid", ""),
        requests_of(pod),
        _selector(spec),
        tolerations,
        f"{namespace}/{group}" if group else None,
    )


def tolerates(shape: PodShape, taint: Mapping[str, Any]) -> bool:
    if taint.get("effect") not in ("NoSchedule", "NoExecute"):
        return True
    for pairs in shape.tolerations:
        toleration = dict(pairs)
        if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
            continue
        key = toleration.get("key")
        if toleration.get("operator", "Equal") == "Exists" and (not key or key == taint.get("key")):
            return True
        if key == taint.get("key") and toleration.get("value", "") == str(taint.get("value") or ""):
            return True
    return False


def is_provisionable(pod: Mapping[str, Any]) -> bool:
    """Pending, marked unschedulable by the scheduler, and wanting GPUs or a given instance type."""
    spec, metadata = pod.get("spec") or {}, pod.get("metadata") or {}
    if spec.get("nodeName") or metadata.get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    if status.get("phase") not in (None, "Pending"):
        return False
    scheduled = get_condition(status.get("conditions"), "PodScheduled")
    if scheduled is None or scheduled.get("reason") != "Unschedulable":
        return False
    return requests_of(pod).gpus > 0 or INSTANCE_TYPE_LABEL in (spec.get("nodeSelector") or {})
