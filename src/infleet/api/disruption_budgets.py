"""PodDisruptionBudget arithmetic as kube-controller-manager's disruption controller does it.

A budget selects the pods of its namespace with its label selector (policy/v1: an empty selector
selects every pod, a missing one none). ``currentHealthy`` counts selected pods that are Ready and not
terminating; ``desiredHealthy`` is ``minAvailable`` (a number as is, a percentage of the expected pods
rounded up) or the expected pods less ``maxUnavailable`` (rounded up); ``disruptionsAllowed`` is what
``currentHealthy`` exceeds it by, never below zero. The expected pods are the ``spec.replicas`` of the
selected pods' controllers, as kube reads their scale; a pod whose controller is unknown counts as one
(kube refuses to compute such a budget at all). Shared by the API server's eviction subresource and the
simulated disruption controller, so both answer the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Looks up the ``spec.replicas`` of a pod's controller: (namespace, ownerReference) -> replicas or None.
ReplicasOf = Callable[[str, Mapping[str, Any]], int | None]


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """meta/v1 LabelSelector semantics: matchLabels and every matchExpression (an empty one: all)."""
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def selects(pdb: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    pod_meta = pod.get("metadata") or {}
    if (pdb.get("metadata") or {}).get("namespace") != pod_meta.get("namespace"):
        return False
    selector = (pdb.get("spec") or {}).get("selector")
    return selector is not None and selector_matches(selector, pod_meta.get("labels") or {})


def is_terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def is_healthy(pod: Mapping[str, Any]) -> bool:
    """Counts towards ``currentHealthy``: Ready and not terminating."""
    return is_ready(pod) and not (pod.get("metadata") or {}).get("deletionTimestamp")


def _scaled(value: Any, total: int) -> int:
    text = str(value)
    if text.endswith("%"):
        return math.ceil(int(text[:-1]) * total / 100)
    return int(text)


@dataclass(frozen=True)
class BudgetStatus:
    expected_pods: int
    current_healthy: int
    desired_healthy: int
    disruptions_allowed: int

    def as_status(self, generation: int) -> dict[str, Any]:
        """The ``status`` fields a disruption controller writes (conditions aside)."""
        return {
            "observedGeneration": generation,
            "expectedPods": self.expected_pods,
            "currentHealthy": self.current_healthy,
            "desiredHealthy": self.desired_healthy,
            "disruptionsAllowed": self.disruptions_allowed,
        }


def _expected_scale(pods: Sequence[Mapping[str, Any]], replicas_of: ReplicasOf) -> int:
    counted: set[str] = set()
    total = 0
    for pod in pods:
        metadata = pod.get("metadata") or {}
        controller = next((r for r in metadata.get("ownerReferences") or [] if r.get("controller")), None)
        replicas = replicas_of(str(metadata.get("namespace", "")), controller) if controller else None
        if controller is None or replicas is None:
            total += 1
        elif controller.get("uid") not in counted:
            counted.add(str(controller.get("uid")))
            total += replicas
    return total


def budget_status(
    pdb: Mapping[str, Any], pods: Sequence[Mapping[str, Any]], replicas_of: ReplicasOf
) -> BudgetStatus:
    """The status of ``pdb`` over ``pods`` (any pods of the cluster; the budget picks its own)."""
    selected = [p for p in pods if selects(pdb, p) and not is_terminal(p)]
    healthy = sum(1 for p in selected if is_healthy(p))
    spec = pdb.get("spec") or {}
    if spec.get("maxUnavailable") is not None:
        expected = _expected_scale(selected, replicas_of)
        desired = max(0, expected - _scaled(spec["maxUnavailable"], expected))
    elif spec.get("minAvailable") is not None and not str(spec["minAvailable"]).endswith("%"):
        expected, desired = len(selected), int(str(spec["minAvailable"]))
    elif spec.get("minAvailable") is not None:
        expected = _expected_scale(selected, replicas_of)
        desired = _scaled(spec["minAvailable"], expected)
    else:
        expected, desired = 0, 0
    return BudgetStatus(expected, healthy, desired, max(0, healthy - desired))
