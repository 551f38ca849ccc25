"""Cells of the built-in kinds' Tables, checked against what kube-apiserver's printers write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from infleet.apiserver.builtin_kinds import builtin_resources
from infleet.apiserver.tables import build_table

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def stamp(ago: timedelta) -> str:
    return (NOW - ago).strftime("%Y-%m-%dT%H:%M:%SZ")


def row(kind: str, obj: dict[str, Any], version: str = "") -> dict[str, Any]:
    """Column name -> cell for one object of ``kind``."""
    resource = next(r for r in builtin_resources() if r.kind == kind and version in ("", r.version))
    obj.setdefault("metadata", {}).setdefault("name", "x")
    obj["metadata"].setdefault("creationTimestamp", stamp(timedelta(minutes=5)))
    table = build_table([obj], resource.columns, now=NOW, resource_version="1")
    names = [c["name"] for c in table["columnDefinitions"]]
    return dict(zip(names, table["rows"][0]["cells"], strict=True))


def container(state: dict[str, Any], **status: Any) -> dict[str, Any]:
    return {"name": "c", "state": state, **status}


def test_pod_status_and_restarts_read_like_kubectl() -> None:
    crashing = {
        "spec": {"containers": [{"name": "c"}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                container(
                    {"waiting": {"reason": "CrashLoopBackOff"}},
                    restartCount=3,
                    lastState={"terminated": {"finishedAt": stamp(timedelta(minutes=2))}},
                )
            ],
        },
    }
    cells = row("Pod", crashing)
    assert (cells["Ready"], cells["Status"], cells["Restarts"]) == ("0/1", "CrashLoopBackOff", "3 (2m ago)")
    assert (cells["IP"], cells["Node"], cells["Nominated Node"], cells["Readiness Gates"]) == (
        "<none>",
        "<none>",
        "<none>",
        "<none>",
    )

    initializing = {
        "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "c"}]},
        "status": {"phase": "Pending", "initContainerStatuses": [container({"running": {}})]},
    }
    assert row("Pod", initializing)["Status"] == "Init:0/1"

    running = {
        "metadata": {"deletionTimestamp": stamp(timedelta(0))},
        "spec": {"containers": [{"name": "c"}], "nodeName": "n1"},
        "status": {
            "phase": "Running",
            "podIPs": [{"ip": "10.0.0.7"}],
            "containerStatuses": [container({"running": {}}, ready=True)],
        },
    }
    cells = row("Pod", running)
    assert (cells["Ready"], cells["Status"], cells["IP"], cells["Node"]) == (
        "1/1",
        "Terminating",
        "10.0.0.7",
        "n1",
    )


def test_job_completions_status_and_duration() -> None:
    job = {
        "spec": {"parallelism": 3, "template": {"spec": {"containers": [{"name": "a", "image": "i:1"}]}}},
        "status": {
            "succeeded": 2,
            "startTime": stamp(timedelta(minutes=4)),
            "completionTime": stamp(timedelta(minutes=1)),
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    }
    cells = row("Job", job)
    assert (cells["Status"], cells["Completions"], cells["Duration"]) == ("Complete", "2/1 of 3", "3m")
    assert (cells["Containers"], cells["Images"], cells["Selector"]) == ("a", "i:1", "<none>")


def test_hpa_targets_in_both_versions() -> None:
    v2 = {
        "apiVersion": "autoscaling/v2",
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                },
                {"type": "Pods", "pods": {"target": {"averageValue": "10"}}},
                {"type": "External", "external": {"target": {"value": "3"}}},
            ],
        },
        "status": {
            "currentMetrics": [{"type": "Resource", "resource": {"current": {"averageUtilization": 41}}}]
        },
    }
    cells = row("HorizontalPodAutoscaler", v2, "v2")
    assert cells["Targets"] == "cpu: 41%/80%, <unknown>/10 + 1 more..."
    assert (cells["Reference"], cells["MinPods"], cells["MaxPods"], cells["Replicas"]) == (
        "Deployment/web",
        "<unset>",
        5,
        0,
    )
    v1 = {"apiVersion": "autoscaling/v1", "spec": {"targetCPUUtilizationPercentage": 60}}
    assert row("HorizontalPodAutoscaler", v1, "v1")["Targets"] == "cpu: <unknown>/60%"


def test_storage_columns() -> None:
    bound = {
        "spec": {"volumeName": "pv-1", "storageClassName": "fast", "volumeMode": "Filesystem"},
        "status": {
            "phase": "Bound",
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
        },
    }
    cells = row("PersistentVolumeClaim", bound)
    assert [cells[c] for c in ("Status", "Volume", "Capacity", "Access Modes", "StorageClass")] == [
        "Bound",
        "pv-1",
        "10Gi",
        "RWO,ROX",
        "fast",
    ]
    assert (cells["VolumeAttributesClass"], cells["VolumeMode"]) == ("<unset>", "Filesystem")
    cells = row("StorageClass", {"provisioner": "csi.example.com"})
    assert [
        cells[c] for c in ("Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion")
    ] == [
        "csi.example.com",
        "Delete",
        "Immediate",
        False,
    ]


def test_endpoint_slices_services_and_nodes() -> None:
    slice_ = {
        "addressType": "IPv4",
        "ports": [{"port": 80}, {"name": "metrics"}],
        "endpoints": [{"addresses": [f"10.0.0.{i}"]} for i in range(4)],
    }
    cells = row("EndpointSlice", slice_)
    assert (cells["Ports"], cells["Endpoints"]) == ("80,metrics", "10.0.0.0,10.0.0.1,10.0.0.2 + 1 more...")
    assert row("EndpointSlice", {"addressType": "IPv4"})["Endpoints"] == "<unset>"

    service = {
        "spec": {
            "type": "LoadBalancer",
            "clusterIPs": ["10.96.0.5"],
            "ports": [{"port": 80, "nodePort": 30080}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}},
    }
    cells = row("Service", service)
    assert [cells[c] for c in ("Cluster-IP", "External-IP", "Port(s)", "Selector")] == [
        "10.96.0.5",
        "203.0.113.9",
        "80:30080/TCP",
        "<none>",
    ]
    assert row("Service", {"spec": {"type": "LoadBalancer"}})["External-IP"] == "<pending>"

    node = {
        "metadata": {"labels": {"node-role.kubernetes.io/gpu": ""}},
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "10.1.0.4"}],
            "nodeInfo": {"kubeletVersion": "v1.32.4", "osImage": "Ubuntu"},
        },
    }
    cells = row("Node", node)
    assert (cells["Status"], cells["Roles"], cells["Version"]) == (
        "Ready,SchedulingDisabled",
        "gpu",
        "v1.32.4",
    )
    assert [cells[c] for c in ("Internal-IP", "External-IP", "OS-Image", "Kernel-Version")] == [
        "10.1.0.4",
        "<none>",
        "Ubuntu",
        "<unknown>",
    ]


def test_kinds_without_a_printer_show_created_at_and_workload_counts_default_to_zero() -> None:
    assert row("Role", {"metadata": {"creationTimestamp": "2026-01-01T10:00:00Z"}})["Created At"] == (
        "2026-01-01T10:00:00Z"
    )
    cells = row("ReplicaSet", {"spec": {"replicas": 2}})
    assert (cells["Desired"], cells["Current"], cells["Ready"]) == (2, 0, 0)
    cells = row("PodDisruptionBudget", {"spec": {"maxUnavailable": "25%"}})
    assert (cells["Min Available"], cells["Max Unavailable"], cells["Allowed Disruptions"]) == (
        "N/A",
        "25%",
        0,
    )
    revision = {
        "metadata": {
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": True}
            ]
        },
        "revision": 3,
    }
    assert row("ControllerRevision", revision)["Controller"] == "statefulset.apps/db"
    event = {"involvedObject": {"kind": "Pod", "name": "web-1"}, "message": " pulled \n", "count": 2}
    cells = row("Event", event)
    assert (cells["Object"], cells["Message"], cells["Count"]) == ("pod/web-1", "pulled", 2)
