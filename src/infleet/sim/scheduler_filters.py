"""The scheduler's filters and score on plain Pod and Node dicts, in kube-scheduler's words: node ready,
resources (cpu, memory, pods, ``nvidia.com/gpu``), nodeSelector, required node affinity (with
``matchFields`` on ``metadata.name``), taints and tolerations; :func:`unschedulable_message` folds
reasons into "0/3 nodes are available: ...".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from infleet.api.labels import GPU_RESOURCE
from infleet.api.labels import NOT_READY_TAINT as NOT_READY_KEY
from infleet.api.labels import UNSCHEDULABLE_TAINT as UNSCHEDULABLE_KEY
from infleet.api.quantity import parse_quantity
from infleet.kube.conditions import is_true

Resources = dict[str, Decimal]


def pod_requests(pod: Mapping[str, Any]) -> Resources:
    """Sum of container requests (limits stand in for missing requests, as the API defaults them)."""
    total: Resources = {"pods": Decimal(1)}
    for container in (pod.get("spec") or {}).get("containers") or []:
        resources = container.get("resources") or {}
        wanted = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
        for name, value in wanted.items():
            total[name] = total.get(name, Decimal(0)) + parse_quantity(value)
    return total


def allocatable(node: Mapping[str, Any]) -> Resources:
    status = node.get("status") or {}
    found = status.get("allocatable") or status.get("capacity") or {}
    return {name: parse_quantity(value) for name, value in found.items()}


UNSCHEDULABLE_TAINT = {"key": UNSCHEDULABLE_KEY, "effect": "NoSchedule"}
NOT_READY_TAINT = {"key": NOT_READY_KEY, "effect": "NoSchedule"}


def node_ready(node: Mapping[str, Any], pod: Mapping[str, Any] | None = None) -> str | None:
    """A cordoned or unready node, unless ``pod`` tolerates the taint kube puts on such a node (as a
    DaemonSet's pods do)."""
    tolerations = ((pod or {}).get("spec") or {}).get("tolerations") or []

    def tolerated(taint: Mapping[str, Any]) -> bool:
        return any(_tolerates(taint, toleration) for toleration in tolerations)

    if (node.get("spec") or {}).get("unschedulable") and not tolerated(UNSCHEDULABLE_TAINT):
        return "node(s) were unschedulable"
    if not is_true((node.get("status") or {}).get("conditions"), "Ready") and not tolerated(NOT_READY_TAINT):
        return "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
    return None


def fits_resources(requests: Resources, free: Resources) -> list[str]:
    """``Insufficient <resource>`` for every requested resource the node lacks."""
    missing = []
    for name, amount in sorted(requests.items()):
        if amount > 0 and amount > free.get(name, Decimal(0)):
            missing.append("Too many pods" if name == "pods" else f"Insufficient {name}")
    return missing


def _match_expression(labels: Mapping[str, str], expression: Mapping[str, Any]) -> bool:
    key, operator = expression.get("key", ""), expression.get("operator", "In")
    values = [str(v) for v in expression.get("values") or []]
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and values:
        try:
            left, right = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return left > right if operator == "Gt" else left < right
    return False


def matches_node_selector(pod: Mapping[str, Any], node: Mapping[str, Any]) -> str | None:
    """nodeSelector and requiredDuringSchedulingIgnoredDuringExecution node affinity."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    spec = pod.get("spec") or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return "node(s) didn't match Pod's node affinity/selector"
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    # matchFields may name only metadata.name (how a DaemonSet's pod names its node).
    fields = {"metadata.name": str((node.get("metadata") or {}).get("name", ""))}
    if terms and not any(
        all(_match_expression(labels, e) for e in term.get("matchExpressions") or [])
        and all(_match_expression(fields, e) for e in term.get("matchFields") or [])
        for term in terms
    ):
        return "node(s) didn't match Pod's node affinity/selector"
    return None


def _tolerates(taint: Mapping[str, Any], toleration: Mapping[str, Any]) -> bool:
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    key = toleration.get("key")
    if toleration.get("operator", "Equal") == "Exists":
        return not key or key == taint.get("key")
    return key == taint.get("key") and str(toleration.get("value", "")) == str(taint.get("value", ""))


def untolerated_taint(pod: Mapping[str, Any], node: Mapping[str, Any]) -> str | None:
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(_tolerates(taint, toleration) for toleration in tolerations):
            return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
    return None


def free_resources(node: Mapping[str, Any], pods_on_node: Iterable[Mapping[str, Any]]) -> Resources:
    free = allocatable(node)
    for pod in pods_on_node:
        for name, amount in pod_requests(pod).items():
            free[name] = free.get(name, Decimal(0)) - amount
    return free


def filter_node(pod: Mapping[str, Any], node: Mapping[str, Any], free: Resources) -> list[str]:
    """Why ``pod`` cannot go to ``node`` (empty when it can)."""
    for check in (node_ready(node, pod), matches_node_selector(pod, node), untolerated_taint(pod, node)):
        if check:
            return [check]
    return fits_resources(pod_requests(pod), free)


def score_node(pod: Mapping[str, Any], free: Resources, node: Mapping[str, Any]) -> float:
    """Higher is better, in [0, 1]: pack GPUs tightly (keep whole big nodes free), spread the rest."""
    requests = pod_requests(pod)
    total = allocatable(node)
    gpus = requests.get(GPU_RESOURCE, Decimal(0))
    if gpus > 0 and total.get(GPU_RESOURCE):
        left = free.get(GPU_RESOURCE, Decimal(0)) - gpus
        return float(1 - left / total[GPU_RESOURCE])
    cpu_total = total.get("cpu") or Decimal(1)
    no_gpu_bonus = 0.5 if not total.get(GPU_RESOURCE) else 0.0  # keep GPU nodes for GPU pods
    return (
        0.5 * float((free.get("cpu", Decimal(0)) - requests.get("cpu", Decimal(0))) / cpu_total)
        + no_gpu_bonus
    )


def unschedulable_message(total_nodes: int, reasons: Iterable[str]) -> str:
    """kube-scheduler's FailedScheduling text, reasons counted and sorted."""
    counted = Counter(reasons)
    if not counted:
        return f"0/{total_nodes} nodes are available: no nodes registered."
    parts = ", ".join(f"{count} {reason}" for reason, count in sorted(counted.items()))
    return f"0/{total_nodes} nodes are available: {parts}."
