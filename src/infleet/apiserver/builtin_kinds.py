"""The built-in Kubernetes kinds the server serves, with the columns ``kubectl get`` shows for them.

Columns mirror kube-apiserver's table printers for the fields a user looks at first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from infleet.api.kubernetes import (
    CONFIGMAP,
    CUSTOM_RESOURCE_DEFINITION,
    DEPLOYMENT,
    ENDPOINTS,
    EVENT,
    LEASE,
    NAMESPACE,
    NODE,
    POD,
    SECRET,
    SERVICE,
    STATEFULSET,
)
from infleet.api.labels import NODE_ROLE_PREFIX
from infleet.api.resource_kind import ResourceKind
from infleet.apiserver.resources import ResourceType, ScaleSubresource
from infleet.apiserver.tables import ComputedColumn, PrinterColumn

_AGE = PrinterColumn(name="Age", type="date", json_path=".metadata.creationTimestamp")


def _served(kind: ResourceKind, **presentation: Any) -> ResourceType:
    """The served resource of a built-in kind (its identity from :mod:`infleet.api.kubernetes`)."""
    return ResourceType(
        group=kind.group,
        version=kind.version,
        kind=kind.kind,
        plural=kind.plural,
        singular=kind.kind.lower(),
        namespaced=kind.namespaced,
        **presentation,
    )


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
    roles = sorted(key.removeprefix(NODE_ROLE_PREFIX) for key in labels if key.startswith(NODE_ROLE_PREFIX))
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
        _served(
            NAMESPACE,
            short_names=("ns",),
            columns=(_computed("Status", "string", _namespace_status), _AGE),
        ),
        _served(
            NODE,
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
        _served(
            POD,
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
            extra_subresources=("binding", "log", "exec", "attach", "portforward"),
        ),
        _served(
            SERVICE,
            short_names=("svc",),
            categories=("all",),
            columns=(
                _column("Type", "string", ".spec.type"),
                _column("Cluster-IP", "string", ".spec.clusterIP"),
                _computed("Port(s)", "string", _service_ports),
                _AGE,
            ),
        ),
        _served(
            ENDPOINTS,
            short_names=("ep",),
            has_status=False,
            columns=(_computed("Endpoints", "string", _endpoints), _AGE),
        ),
        _served(
            CONFIGMAP,
            short_names=("cm",),
            has_status=False,
            columns=(_computed("Data", "integer", _data_count), _AGE),
        ),
        _served(
            SECRET,
            has_status=False,
            columns=(_column("Type", "string", ".type"), _computed("Data", "integer", _data_count), _AGE),
            selectable_fields={"type": ".type"},
        ),
        _served(
            EVENT,
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
        _served(
            LEASE,
            has_status=False,
            columns=(_column("Holder", "string", ".spec.holderIdentity"), _AGE),
        ),
        _served(
            DEPLOYMENT,
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
        _served(
            STATEFULSET,
            short_names=("sts",),
            categories=("all",),
            scale=ScaleSubresource(label_selector_path=".spec.selector"),
            columns=(_computed("Ready", "string", _replicas_ready), _AGE),
        ),
        _served(
            CUSTOM_RESOURCE_DEFINITION,
            short_names=("crd", "crds"),
            columns=(_column("Created At", "date", ".metadata.creationTimestamp"),),
        ),
    ]
