"""What each node of the member cluster holds and what is still free on it, from Node and Pod objects.

The scheduler's arithmetic: a pod bound to a node holds its effective requests (the larger of its
containers' sum and its biggest init container, plus overhead) until it terminates. ``properties`` sums
these per cluster and per GPU SKU.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from infleet.api.labels import GPU_RESOURCE
from infleet.api.quantity import parse_quantity

CPU, MEMORY = "cpu", "memory"
#: The resources the member reports (KubeFleet tracks only cpu and memory; GPUs are Infleet's).
TRACKED = (CPU, MEMORY, GPU_RESOURCE)
_TERMINATED = ("Succeeded", "Failed")

Resources = dict[str, Decimal]


@dataclass
class NodeUsage:
    """One node: its capacity and allocatable, what bound pods request, and whether it takes pods now."""

    node: Mapping[str, Any]
    capacity: Resources
    allocatable: Resources
    requested: Resources = field(default_factory=dict)
    usable: bool = True

    @property
    def name(self) -> str:
        return str(self.node["metadata"]["name"])

    def free(self, resource: str) -> Decimal:
        """Allocatable minus requested; zero on a node that cannot take pods (cordoned, not ready)."""
        if not self.usable:
            return Decimal(0)
        return max(
            Decimal(0), self.allocatable.get(resource, Decimal(0)) - self.requested.get(resource, Decimal(0))
        )


def _resources(values: Mapping[str, Any] | None) -> Resources:
    found: Resources = {}
    for name in TRACKED:
        raw = (values or {}).get(name)
        if raw is not None:
            found[name] = parse_quantity(raw)
    return found


def _container_requests(container: Mapping[str, Any]) -> Resources:
    # The API server copies limits into missing requests; where it did not (an older object), a limit
    # is what the scheduler would have defaulted, so it counts as the request.
    resources = container.get("resources") or {}
    limits = _resources(resources.get("limits"))
    return {**limits, **_resources(resources.get("requests"))}


def pod_requests(pod: Mapping[str, Any]) -> Resources:
    """The pod's effective requests of the tracked resources, as the scheduler counts them."""
    spec = pod.get("spec") or {}
    total: Resources = {}
    for container in spec.get("containers") or []:
        for name, value in _container_requests(container).items():
            total[name] = total.get(name, Decimal(0)) + value
    for container in spec.get("initContainers") or []:
        for name, value in _container_requests(container).items():
            total[name] = max(total.get(name, Decimal(0)), value)
    for name, value in _resources(spec.get("overhead")).items():
        total[name] = total.get(name, Decimal(0)) + value
    return total


def holds_resources(pod: Mapping[str, Any]) -> bool:
    """Bound to a node and not terminated: a pod being deleted still holds its node until it is gone."""
    bound = bool((pod.get("spec") or {}).get("nodeName"))
    return bound and (pod.get("status") or {}).get("phase") not in _TERMINATED


def _usable(node: Mapping[str, Any]) -> bool:
    if (node.get("spec") or {}).get("unschedulable"):
        return False
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    # A node that has not reported conditions yet is taken at its word (tests and fresh registrations).
    return ready is None or ready.get("status") == "True"


def node_usage(nodes: Iterable[Mapping[str, Any]], pods: Iterable[Mapping[str, Any]]) -> list[NodeUsage]:
    """Every node with the requests of the pods bound to it, in name order."""
    usage: dict[str, NodeUsage] = {}
    for node in nodes:
        status = node.get("status") or {}
        capacity = _resources(status.get("capacity"))
        allocatable = _resources(status.get("allocatable")) or dict(capacity)
        entry = NodeUsage(node, capacity, allocatable, usable=_usable(node))
        usage[entry.name] = entry
    for pod in pods:
        if not holds_resources(pod):
            continue
        holder = usage.get(str(pod["spec"]["nodeName"]))
        if holder is None:
            continue  # bound to a node that is gone: it holds nothing the cluster still has
        for name, value in pod_requests(pod).items():
            holder.requested[name] = holder.requested.get(name, Decimal(0)) + value
    return [usage[name] for name in sorted(usage)]
