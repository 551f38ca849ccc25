"""Serving never drops below a model's disruption budget: a node may be disrupted only if, with the
nodes already disrupting, every PodDisruptionBudget still allows its pods to go, and no ModelDeployment
loses more than one Ready replica at a time, unless it runs surge replicas beyond ``spec.replicas``
that are Ready. Replicas on disrupting nodes, and replicas not Ready, already use that allowance.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from infleet.compute import workload_pods
from infleet.compute.disruption.state import Snapshot, StateNode
from infleet.compute.pod_disruption_budgets import DisruptionAllowance
from infleet.kube.store import Store


def _desired(deployments: Store, key: str) -> int | None:
    namespace, _, name = key.partition("/")
    deployment = deployments.get(name, namespace)
    if deployment is None:
        return None
    status = deployment.get("status") or {}
    autoscaled = (status.get("autoscaling") or {}).get("desiredReplicas")
    return int(autoscaled if autoscaled is not None else (deployment.get("spec") or {}).get("replicas", 1))


class ServingGuard:
    """Built per pass; :meth:`admit` says why a node may not go, :meth:`charge` books one that goes."""

    def __init__(self, snapshot: Snapshot, deployments: Store, budgets: list[dict[str, Any]]) -> None:
        self.pdbs = DisruptionAllowance(budgets, snapshot.pods)
        ready: Counter[str] = Counter()
        total: Counter[str] = Counter()
        for pod in snapshot.pods:
            key = workload_pods.model_deployment(pod)
            if key is None or not workload_pods.is_active(pod) or workload_pods.is_terminating(pod):
                continue
            total[key] += 1
            ready[key] += workload_pods.is_ready(pod)
        #: Replicas each deployment may still lose: one, plus Ready surge beyond what it wants.
        self.model_allowance: dict[str, int] = {}
        for key, count in total.items():
            desired = _desired(deployments, key)
            desired = count if desired is None else desired
            self.model_allowance[key] = 1 + ready[key] - desired - (count - ready[key])
        for state in snapshot.nodes:
            if state.disrupting:
                self.charge(state)

    def _ready_model_pods(self, state: StateNode) -> Counter[str]:
        counts: Counter[str] = Counter()
        for pod in state.reschedulable:
            key = workload_pods.model_deployment(pod)
            if key is not None and workload_pods.is_ready(pod):
                counts[key] += 1
        return counts

    def admit(self, state: StateNode) -> str | None:
        if not self.pdbs.allows(state.reschedulable):
            return "a PodDisruptionBudget allows no more of its pods to go"
        for key, count in self._ready_model_pods(state).items():
            if count > self.model_allowance.get(key, 1):
                return f"ModelDeployment {key} would lose more than one replica at once"
        return None

    def fork(self) -> ServingGuard:
        copied = copy.copy(self)
        copied.pdbs = self.pdbs.fork()
        copied.model_allowance = dict(self.model_allowance)
        return copied

    def charge(self, state: StateNode) -> None:
        self.pdbs.charge(state.reschedulable)
        for key, count in self._ready_model_pods(state).items():
            self.model_allowance[key] = self.model_allowance.get(key, 1) - count
