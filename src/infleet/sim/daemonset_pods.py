"""Which nodes a DaemonSet runs on, and the pod it puts on each, as kube-controller-manager makes them.

A node should run the daemon pod when the pod's nodeSelector and required node affinity match it and
the pod tolerates its NoSchedule and NoExecute taints; a pod already there stays despite a NoSchedule
taint. The pod carries the tolerations kube adds to
every daemon pod (so a cordoned, unready or pressured node keeps it) and a required node affinity on
``metadata.name`` that pins it to its node; the scheduler binds it there through ``pods/binding``.
Used by :mod:`~infleet.sim.daemonset_controller`.
"""

from __future__ import annotations

import copy
from typing import Any

from infleet.api.labels import NODE_CONDITION_TAINT_PREFIX
from infleet.sim.controller_revisions import REVISION_HASH_LABEL
from infleet.sim.scheduler_filters import matches_node_selector, untolerated_taint
from infleet.sim.workload_pods import pod_from_template

TEMPLATE_GENERATION_LABEL = "pod-template-generation"
_NODE_NAME_FIELD = "metadata.name"


def _toleration(key: str, effect: str) -> dict[str, Any]:
    return {"key": f"{NODE_CONDITION_TAINT_PREFIX}{key}", "operator": "Exists", "effect": effect}


_DAEMON_TOLERATIONS = (
    _toleration("not-ready", "NoExecute"),
    _toleration("unreachable", "NoExecute"),
    _toleration("disk-pressure", "NoSchedule"),
    _toleration("memory-pressure", "NoSchedule"),
    _toleration("pid-pressure", "NoSchedule"),
    _toleration("unschedulable", "NoSchedule"),
)
_HOST_NETWORK_TOLERATION = _toleration("network-unavailable", "NoSchedule")


def _with_daemon_tolerations(pod_spec: dict[str, Any]) -> None:
    tolerations = list(pod_spec.get("tolerations") or [])
    extra = [*_DAEMON_TOLERATIONS, *([_HOST_NETWORK_TOLERATION] if pod_spec.get("hostNetwork") else [])]
    for toleration in extra:
        if not any(
            t.get("key") == toleration["key"] and t.get("effect") == toleration["effect"] for t in tolerations
        ):
            tolerations.append(dict(toleration))
    pod_spec["tolerations"] = tolerations


def _pinned_to(pod_spec: dict[str, Any], node_name: str) -> None:
    """Replace the required node affinity with one term naming the node (the template's own terms
    were checked when the node was chosen)."""
    affinity = pod_spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    term = {"matchFields": [{"key": _NODE_NAME_FIELD, "operator": "In", "values": [node_name]}]}
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}


def daemon_pod(daemonset: dict[str, Any], node_name: str, template_hash: str) -> dict[str, Any]:
    """The body of ``daemonset``'s pod for ``node_name``."""
    template = (daemonset.get("spec") or {}).get("template") or {}
    labels = {
        REVISION_HASH_LABEL: template_hash,
        TEMPLATE_GENERATION_LABEL: str(daemonset["metadata"].get("generation", 1)),
    }
    pod = pod_from_template(daemonset, template, labels, generate_name=f"{daemonset['metadata']['name']}-")
    _with_daemon_tolerations(pod["spec"])
    _pinned_to(pod["spec"], node_name)
    return pod


def target_node(pod: dict[str, Any]) -> str:
    """The node a daemon pod runs on, or is pinned to while it waits for the scheduler."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == _NODE_NAME_FIELD and field.get("values"):
                return str(field["values"][0])
    return ""


def placement(daemonset: dict[str, Any], node: dict[str, Any]) -> tuple[bool, bool]:
    """(should run, may keep running) the DaemonSet's pod on ``node``: a node that stops matching or
    gains an untolerated NoExecute taint loses the pod; an untolerated NoSchedule taint only keeps new
    pods away."""
    template_spec = copy.deepcopy(((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {})
    _with_daemon_tolerations(template_spec)
    pod = {"spec": template_spec}
    if matches_node_selector(pod, node) is not None:
        return False, False
    if untolerated_taint(pod, node) is None:
        return True, True
    no_execute = {
        "spec": {
            "taints": [
                t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"
            ]
        }
    }
    return False, untolerated_taint(pod, no_execute) is None
