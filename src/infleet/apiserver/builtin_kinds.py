"""The built-in Kubernetes kinds the server serves, with the columns ``kubectl get`` shows for them.

Columns mirror kube-apiserver's table printers for the fields a user looks at first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from infleet.apiserver.resources import ResourceType, ScaleSubresource
from infleet.apiserver.tables import ComputedColumn, PrinterColumn

_AGE = PrinterColumn(name="Age", type="date", json_path=".metadata.creationTimestamp")


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    node: Any = obj
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _condition(obj: Mapping[str, Any], kind: str) -> str | None:
    for condition in _get(obj, "status", "conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == kind:
            return str(condition.get("status"))
    return None


def _pod_ready(obj: Mapping[str, Any], _now: datetime) -> str:
    containers = _get(obj, "spec", "containers") or []
    statuses = _get(obj, "status", "containerStatuses") or []
    ready = sum(1 for s in statuses if isinstance(s, Mapping) and s.get("ready"))
    return f"{ready}/{len(containers)}"


def _pod_status(obj: Mapping[str, Any], _now: datetime) -> str:
    if _get(obj, "metadata", "deletionTimestamp"):
        return "Terminating"
    for status in _get(obj, "status", "containerStatuses") or []:
        waiting = _get(status, "state", "waiting", "reason")
        if waiting:
            return str(waiting)
        terminated = _get(status, "state", "terminated", "reason")
        if terminated:
            return str(terminated)
    return str(_get(obj, "status", "reason") or _get(obj, "status", "phase") or "Pending")


def _pod_restarts(obj: Mapping[str, Any], _now: datetime) -> int:
    statuses = _get(obj, "status", "containerStatuses") or []
    return sum(int(s.get("restartCount", 0)) for s in statuses if isinstance(s, Mapping))


def _replicas_ready(obj: Mapping[str, Any], _now: datetime) -> str:
    return f"{_get(obj, 'status', 'readyReplicas') or 0}/{_get(obj, 'spec', 'replicas') or 0}"


def _node_status(obj: Mapping[str, Any], _now: datetime) -> str:
    ready = _condition(obj, "Ready")
    status = "Ready" if ready == "True" else "NotReady"
    if _get(obj, "spec", "unschedulable"):
        status += ",SchedulingDisabled"
    return status


def _node_roles(obj: Mapping[str, Any], _now: datetime) -> str:
    labels = _get(obj, "metadata", "labels") or {}
    prefix = "node-role.kubernetes.io/"
    roles = sorted(key[len(prefix) :] for key in labels if key.startswith(prefix))
    return ",".join(roles) or "<none>"


def _service_ports(obj: Mapping[str, Any], _now: datetime) -> str:
    ports = _get(obj, "spec", "ports") or []
    text = [f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports if isinstance(p, Mapping)]
    return ",".join(text) or "<none>"


def _endpoints(obj: Mapping[str, Any], _now: datetime) -> str:
    found = []
    for subset in _get(obj, "subsets") or []:
        ports = [p.get("port") for p in subset.get("ports") or []] or [None]
        for address in subset.get("addresses") or []:
            for port in ports:
                found.append(f"{address.get('ip')}:{port}" if port else str(address.get("ip")))
    return ",".join(found[:3]) + (f" + {len(found) - 3} more..." if len(found) > 3 else "") or "<none>"


def _data_count(obj: Mapping[str, Any], _now: datetime) -> int:
    return len(obj.get("data") or {}) + len(obj.get("binaryData") or {})


def _namespace_status(obj: Mapping[str, Any], _now: datetime) -> str:
    return str(_get(obj, "status", "phase") or "Active")


def _column(name: str, type_: str, path: str, priority: int = 0) -> PrinterColumn:
    return PrinterColumn(name=name, type=type_, json_path=path, priority=priority)


def _computed(name: str, type_: str, render: Any, priority: int = 0) -> ComputedColumn:
    return ComputedColumn(name=name, type=type_, render=render, priority=priority)


def builtin_resources() -> list[ResourceType]:
    """Every built-in resource type, in discovery order."""
    return [
        ResourceType(
            group="",
            version="v1",
            kind="Namespace",
            plural="namespaces",
            singular="namespace",
            namespaced=False,
            short_names=("ns",),
            columns=(_computed("Status", "string", _namespace_status), _AGE),
        ),
        ResourceType(
            group="",
            version="v1",
            kind="Node",
            plural="nodes",
            singular="node",
            namespaced=False,
            short_names=("no",),
            columns=(
                _computed("Status", "string", _node_status),
                _computed("Roles", "string", _node_roles),
                _AGE,
                _column("Version", "string", ".status.nodeInfo.kubeletVersion"),
                _column(
                    "Instance-Type", "string", ".metadata.labels.node\\.kubernetes\\.io/instance-type", 1
                ),
            ),
        ),
        ResourceType(
            group="",
            version="v1",
            kind="Pod",
            plural="pods",
            singular="pod",
            namespaced=True,
            short_names=("po",),
            categories=("all",),
            columns=(
                _computed("Ready", "string", _pod_ready),
                _computed("Status", "string", _pod_status),
                _computed("Restarts", "integer", _pod_restarts),
                _AGE,
                _column("IP", "string", ".status.podIP", 1),
                _column("Node", "string", ".spec.nodeName", 1),
            ),
            selectable_fields={"spec.nodeName": ".spec.nodeName", "status.phase": ".status.phase"},
        ),
        ResourceType(
            group="",
            version="v1",
            kind="Service",
            plural="services",
            singular="service",
            namespaced=True,
            short_names=("svc",),
            categories=("all",),
            columns=(
                _column("Type", "string", ".spec.type"),
                _column("Cluster-IP", "string", ".spec.clusterIP"),
                _computed("Port(s)", "string", _service_ports),
                _AGE,
            ),
        ),
        ResourceType(
            group="",
            version="v1",
            kind="Endpoints",
            plural="endpoints",
            singular="endpoints",
            namespaced=True,
            short_names=("ep",),
            has_status=False,
            columns=(_computed("Endpoints", "string", _endpoints), _AGE),
        ),
        ResourceType(
            group="",
            version="v1",
            kind="ConfigMap",
            plural="configmaps",
            singular="configmap",
            namespaced=True,
            short_names=("cm",),
            has_status=False,
            columns=(_computed("Data", "integer", _data_count), _AGE),
        ),
        ResourceType(
            group="",
            version="v1",
            kind="Secret",
            plural="secrets",
            singular="secret",
            namespaced=True,
            has_status=False,
            columns=(_column("Type", "string", ".type"), _computed("Data", "integer", _data_count), _AGE),
            selectable_fields={"type": ".type"},
        ),
        ResourceType(
            group="",
            version="v1",
            kind="Event",
            plural="events",
            singular="event",
            namespaced=True,
            short_names=("ev",),
            has_status=False,
            columns=(
                _column("Last Seen", "date", ".lastTimestamp"),
                _column("Type", "string", ".type"),
                _column("Reason", "string", ".reason"),
                _column("Object", "string", ".involvedObject.name"),
                _column("Message", "string", ".message"),
            ),
            selectable_fields={
                "involvedObject.kind": ".involvedObject.kind",
                "involvedObject.namespace": ".involvedObject.namespace",
                "involvedObject.name": ".involvedObject.name",
                "involvedObject.uid": ".involvedObject.uid",
                "involvedObject.apiVersion": ".involvedObject.apiVersion",
                "involvedObject.resourceVersion": ".involvedObject.resourceVersion",
                "involvedObject.fieldPath": ".involvedObject.fieldPath",
                "reason": ".reason",
                "type": ".type",
                "source": ".source.component",
                "reportingComponent": ".reportingComponent",
            },
        ),
        ResourceType(
            group="coordination.k8s.io",
            version="v1",
            kind="Lease",
            plural="leases",
            singular="lease",
            namespaced=True,
            has_status=False,
            columns=(_column("Holder", "string", ".spec.holderIdentity"), _AGE),
        ),
        ResourceType(
            group="apps",
            version="v1",
            kind="Deployment",
            plural="deployments",
            singular="deployment",
            namespaced=True,
            short_names=("deploy",),
            categories=("all",),
            scale=ScaleSubresource(label_selector_path=".spec.selector"),
            columns=(
                _computed("Ready", "string", _replicas_ready),
                _column("Up-to-date", "integer", ".status.updatedReplicas"),
                _column("Available", "integer", ".status.availableReplicas"),
                _AGE,
            ),
        ),
        ResourceType(
            group="apps",
            version="v1",
            kind="StatefulSet",
            plural="statefulsets",
            singular="statefulset",
            namespaced=True,
            short_names=("sts",),
            categories=("all",),
            scale=ScaleSubresource(label_selector_path=".spec.selector"),
            columns=(_computed("Ready", "string", _replicas_ready), _AGE),
        ),
        ResourceType(
            group="apiextensions.k8s.io",
            version="v1",
            kind="CustomResourceDefinition",
            plural="customresourcedefinitions",
            singular="customresourcedefinition",
            namespaced=False,
            short_names=("crd", "crds"),
            columns=(_column("Created At", "date", ".metadata.creationTimestamp"),),
        ),
    ]
