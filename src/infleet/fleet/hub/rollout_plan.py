"""What one rollout pass may change, as a pure function of a placement's bindings: which Scheduled
bindings to bind, which Bound ones to move to the latest resource snapshot and which Unscheduled ones
to delete, within ``maxSurge`` and ``maxUnavailable`` (KubeFleet's rolling update; percentages of the
target round up). A binding is ready when its Work is Available on a healthy cluster; one that is not
ready costs nothing to replace, so failover never waits on a dead cluster.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from infleet.kube.conditions import get_condition

DEFAULT_BUDGET = "25%"


@dataclass
class RolloutPlan:
    bind: list[dict[str, Any]] = field(default_factory=list)
    update: list[dict[str, Any]] = field(default_factory=list)
    delete: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.bind or self.update or self.delete)


def budget(value: int | str | None, target: int) -> int:
    """An int-or-percent budget against ``target``; percentages round up as in KubeFleet."""
    value = DEFAULT_BUDGET if value is None else value
    if isinstance(value, int):
        return max(0, value)
    text = str(value).strip()
    if text.endswith("%"):
        return max(0, math.ceil(target * float(text[:-1]) / 100))
    return max(0, int(text))


def is_ready(binding: dict[str, Any], healthy_clusters: Collection[str]) -> bool:
    spec = binding.get("spec") or {}
    if spec.get("state") == "Scheduled" or spec.get("targetCluster") not in healthy_clusters:
        return False
    available = get_condition((binding.get("status") or {}).get("conditions"), "Available")
    generation = binding["metadata"].get("generation")
    return bool(
        available
        and available.get("status") == "True"
        and available.get("observedGeneration") in (None, generation)
    )


def plan_rollout(
    bindings: Sequence[dict[str, Any]],
    target: int,
    latest_snapshot: str,
    strategy: dict[str, Any],
    healthy_clusters: Collection[str],
) -> RolloutPlan:
    """The changes allowed now; the next pass (after a binding's status changes) continues."""
    rolling = strategy.get("rollingUpdate") or {}
    min_available = target - budget(rolling.get("maxUnavailable"), target)
    surge = budget(rolling.get("maxSurge"), target)
    plan = RolloutPlan()
    by_state: dict[str, list[dict[str, Any]]] = {"Scheduled": [], "Bound": [], "Unscheduled": []}
    for binding in bindings:
        by_state.setdefault(str((binding.get("spec") or {}).get("state")), []).append(binding)
    ready = sum(1 for b in bindings if is_ready(b, healthy_clusters))
    for binding in by_state["Unscheduled"]:
        if not is_ready(binding, healthy_clusters):
            plan.delete.append(binding)
        elif ready - 1 >= min_available:
            plan.delete.append(binding)
            ready -= 1
    active = len(by_state["Bound"]) + len(by_state["Unscheduled"]) - len(plan.delete)
    plan.bind = by_state["Scheduled"][: max(0, target + surge - active)]
    stale = [
        b for b in by_state["Bound"] if (b.get("spec") or {}).get("resourceSnapshotName") != latest_snapshot
    ]
    for binding in stale:
        if not is_ready(binding, healthy_clusters):
            plan.update.append(binding)
        elif ready - 1 >= min_available:
            plan.update.append(binding)
            ready -= 1
    return plan
