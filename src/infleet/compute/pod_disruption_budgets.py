"""PodDisruptionBudgets as the compute layer weighs them before it disrupts: how many of a budget's pods
may go now, so consolidation, drift and expiry pick only nodes whose pods may move.

This is a forecast, the same arithmetic the API server applies; the drain itself evicts through
``pods/eviction`` (``termination.drain``), where the API server enforces the budgets. Karpenter leaves the
check to the eviction API as well. A cluster that does not serve ``policy/v1`` budgets has none here.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any

from infleet.api.kubernetes import POD_DISRUPTION_BUDGET
from infleet.compute import workload_pods
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient


async def list_budgets(client: ClusterClient) -> list[dict[str, Any]]:
    """Every PDB in the cluster, or none where the kind is not served."""
    try:
        return (await client.list(POD_DISRUPTION_BUDGET)).items
    except KubeAPIError as error:
        if error.not_found:
            return []
        raise


def _selects(pdb: dict[str, Any], pod: dict[str, Any]) -> bool:
    metadata = pdb.get("metadata") or {}
    if metadata.get("namespace") != (pod.get("metadata") or {}).get("namespace"):
        return False
    selector = (pdb.get("spec") or {}).get("selector") or {}
    wanted = selector.get("matchLabels") or {}
    pod_labels = workload_pods.labels(pod)
    return bool(wanted) and all(pod_labels.get(key) == value for key, value in wanted.items())


def _scaled(value: int | str, total: int, round_up: bool) -> int:
    if isinstance(value, int) or not str(value).endswith("%"):
        return int(value)
    share = float(str(value)[:-1]) / 100.0 * total
    return math.ceil(share) if round_up else math.floor(share)


class DisruptionAllowance:
    """How many more pods each PDB lets go, charged as pods are evicted or their nodes are disrupted."""

    def __init__(self, budgets: Iterable[dict[str, Any]], pods: Iterable[dict[str, Any]]) -> None:
        self._budgets = list(budgets)
        live = [p for p in pods if not workload_pods.is_terminal(p)]
        self._allowed: list[int] = [self._allowed_for(pdb, live) for pdb in self._budgets]

    @staticmethod
    def _allowed_for(pdb: dict[str, Any], pods: list[dict[str, Any]]) -> int:
        spec = pdb.get("spec") or {}
        selected = [p for p in pods if _selects(pdb, p)]
        healthy = sum(
            1 for p in selected if workload_pods.is_ready(p) and not workload_pods.is_terminating(p)
        )
        if spec.get("maxUnavailable") is not None:
            unavailable = len(selected) - healthy
            return _scaled(spec["maxUnavailable"], len(selected), round_up=True) - unavailable
        minimum = _scaled(spec.get("minAvailable", 1), len(selected), round_up=True)
        return healthy - minimum

    def allows(self, pods: Iterable[dict[str, Any]]) -> bool:
        """Whether every PDB covering ``pods`` lets all of them go (only Ready ones count against it)."""
        return all(self._needed(index, pods) <= allowed for index, allowed in enumerate(self._allowed))

    def fork(self) -> DisruptionAllowance:
        copied = copy.copy(self)
        copied._allowed = list(self._allowed)
        return copied

    def charge(self, pods: Iterable[dict[str, Any]]) -> None:
        pods = list(pods)
        for index in range(len(self._allowed)):
            self._allowed[index] -= self._needed(index, pods)

    def _needed(self, index: int, pods: Iterable[dict[str, Any]]) -> int:
        pdb = self._budgets[index]
        return sum(1 for p in pods if workload_pods.is_ready(p) and _selects(pdb, p))
