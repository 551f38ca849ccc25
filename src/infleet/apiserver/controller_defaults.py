"""Defaults kube-apiserver fills in for the controller kinds (apps, batch, autoscaling) and the small
kinds of the networking, storage and scheduling groups.

Called by ``builtin_defaults`` after a write reached the storage version; only absent fields are
filled, so defaulting again on update changes nothing. A part of the wrong type is left alone for
validation to report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infleet.api.labels import JOB_CONTROLLER_UID_LABEL, JOB_NAME_LABEL

Defaulter = Callable[[dict[str, Any]], None]
PodSpecDefaults = Callable[[dict[str, Any]], None]

JOB_CONTROLLER_UID = JOB_CONTROLLER_UID_LABEL
JOB_NAME = JOB_NAME_LABEL
_RBAC_GROUP = "rbac.authorization.k8s.io"


def section(parent: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    """``parent[key]``, created empty when absent; None when it is not an object (validation says so)."""
    if parent is None:
        return None
    value = parent.setdefault(key, {})
    return value if isinstance(value, dict) else None


def _template(spec: dict[str, Any] | None, pod_spec: PodSpecDefaults) -> dict[str, Any] | None:
    template = section(spec, "template")
    if (template_spec := section(template, "spec")) is not None:
        pod_spec(template_spec)
    return template


def deployment(obj: dict[str, Any], pod_spec: PodSpecDefaults) -> None:
    if (spec := section(obj, "spec")) is None:
        return
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(spec, pod_spec)
    if (strategy := section(spec, "strategy")) is None:
        return
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate" and (rolling := section(strategy, "rollingUpdate")) is not None:
        rolling.setdefault("maxSurge", "25%")
        rolling.setdefault("maxUnavailable", "25%")


def statefulset(obj: dict[str, Any], pod_spec: PodSpecDefaults) -> None:
    if (spec := section(obj, "spec")) is None:
        return
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    _template(spec, pod_spec)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})


def replicaset(obj: dict[str, Any], pod_spec: PodSpecDefaults) -> None:
    if (spec := section(obj, "spec")) is None:
        return
    spec.setdefault("replicas", 1)
    _template(spec, pod_spec)


def replication_controller(obj: dict[str, Any], pod_spec: PodSpecDefaults) -> None:
    """Replicas 1; a missing selector (and the controller's labels) are the template's labels."""
    if (spec := section(obj, "spec")) is None:
        return
    spec.setdefault("replicas", 1)
    template = _template(spec, pod_spec)
    labels = (template or {}).get("metadata", {}).get("labels") if isinstance(template, dict) else None
    if isinstance(labels, dict) and labels:
        spec.setdefault("selector", dict(labels))
        metadata = obj["metadata"]
        if not metadata.get("labels"):
            metadata["labels"] = dict(labels)


def daemonset(obj: dict[str, Any], pod_spec: PodSpecDefaults) -> None:
    if (spec := section(obj, "spec")) is None:
        return
    spec.setdefault("revisionHistoryLimit", 10)
    _template(spec, pod_spec)
    if (strategy := section(spec, "updateStrategy")) is None:
        return
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate" and (rolling := section(strategy, "rollingUpdate")) is not None:
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)


def job(obj: dict[str, Any], pod_spec: PodSpecDefaults) -> None:
    """Counts and policies, and unless ``manualSelector`` the selector kube-apiserver generates from
    the Job's uid, with the matching labels on its pod template."""
    if (spec := section(obj, "spec")) is None:
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("completionMode", "NonIndexed")
    if spec.get("backoffLimitPerIndex") is None:
        spec.setdefault("backoffLimit", 6)
    spec.setdefault("suspend", False)
    if spec.get("podFailurePolicy") is None:
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    template = _template(spec, pod_spec)
    if spec.get("manualSelector") is True or template is None:
        return
    metadata = obj["metadata"]
    uid, name = str(metadata.get("uid", "")), str(metadata.get("name", ""))
    spec.setdefault("selector", {"matchLabels": {JOB_CONTROLLER_UID: uid}})
    if (labels := section(section(template, "metadata"), "labels")) is not None:
        for key, value in (
            (JOB_CONTROLLER_UID, uid),
            (JOB_NAME, name),
            ("controller-uid", uid),
            ("job-name", name),
        ):
            labels.setdefault(key, value)


def cronjob(obj: dict[str, Any], pod_spec: PodSpecDefaults) -> None:
    if (spec := section(obj, "spec")) is None:
        return
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    _template(section(section(spec, "jobTemplate"), "spec"), pod_spec)


def horizontal_pod_autoscaler(obj: dict[str, Any], _pod_spec: PodSpecDefaults) -> None:
    """autoscaling/v2: at least one replica, and CPU at 80% when no metric is named."""
    if (spec := section(obj, "spec")) is None:
        return
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
            }
        ]


def network_policy(obj: dict[str, Any], _pod_spec: PodSpecDefaults) -> None:
    if (spec := section(obj, "spec")) is None:
        return
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in (rule.get("ports") or []) if isinstance(rule, dict) else []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
    if "policyTypes" not in spec:
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def endpoint_slice(obj: dict[str, Any], _pod_spec: PodSpecDefaults) -> None:
    for port in obj.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("name", "")
            port.setdefault("protocol", "TCP")


def storage_class(obj: dict[str, Any], _pod_spec: PodSpecDefaults) -> None:
    obj.setdefault("reclaimPolicy", "Delete")
    obj.setdefault("volumeBindingMode", "Immediate")


def priority_class(obj: dict[str, Any], _pod_spec: PodSpecDefaults) -> None:
    obj.setdefault("preemptionPolicy", "PreemptLowerPriority")


def role_binding(obj: dict[str, Any], _pod_spec: PodSpecDefaults) -> None:
    """Users and groups are subjects of the RBAC group; service accounts of the core group."""
    for subject in obj.get("subjects") or []:
        if isinstance(subject, dict) and "apiGroup" not in subject:
            subject["apiGroup"] = "" if subject.get("kind") == "ServiceAccount" else _RBAC_GROUP


CONTROLLER_DEFAULTS: dict[tuple[str, str], Callable[[dict[str, Any], PodSpecDefaults], None]] = {
    ("apps", "Deployment"): deployment,
    ("apps", "StatefulSet"): statefulset,
    ("apps", "ReplicaSet"): replicaset,
    ("apps", "DaemonSet"): daemonset,
    ("", "ReplicationController"): replication_controller,
    ("batch", "Job"): job,
    ("batch", "CronJob"): cronjob,
    ("autoscaling", "HorizontalPodAutoscaler"): horizontal_pod_autoscaler,
    ("networking.k8s.io", "NetworkPolicy"): network_policy,
    ("discovery.k8s.io", "EndpointSlice"): endpoint_slice,
    ("storage.k8s.io", "StorageClass"): storage_class,
    ("scheduling.k8s.io", "PriorityClass"): priority_class,
    ("rbac.authorization.k8s.io", "RoleBinding"): role_binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): role_binding,
}
