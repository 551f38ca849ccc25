"""TaintToleration: a cluster's NoSchedule taints must each be tolerated by the policy, with Kubernetes'
Equal / Exists semantics. Skipped for PickFixed, which ignores taints as in KubeFleet.
"""

from __future__ import annotations

from collections.abc import Sequence

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import Taint
from infleet.api.placement_kubernetes_fleet_io.v1beta1.policy import Toleration
from infleet.scheduling.framework import SUCCESS, Code, Status
from infleet.scheduling.placement.cluster import ClusterCandidate
from infleet.scheduling.placement.cycle import PlacementCycle


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """core/v1 Toleration.ToleratesTaint: an empty effect matches every effect, an empty key with Exists
    matches every taint, Equal compares values (an unset value equals an empty one)."""
    if toleration.effect is not None and toleration.effect != taint.effect:
        return False
    if toleration.key is None or toleration.key == "":
        return toleration.operator == "Exists"
    if toleration.key != taint.key:
        return False
    if toleration.operator == "Exists":
        return True
    return (toleration.value or "") == (taint.value or "")


def untolerated(taints: Sequence[Taint], tolerations: Sequence[Toleration]) -> list[Taint]:
    return [t for t in taints if t.effect == "NoSchedule" and not any(tolerates(o, t) for o in tolerations)]


class TaintToleration:
    name = "TaintToleration"

    def filter(self, cycle: PlacementCycle, cluster: ClusterCandidate) -> Status:
        if not cluster.taints or cycle.pick_fixed:
            return SUCCESS
        policy = cycle.request.policy
        left = untolerated(cluster.taints, (policy.tolerations or []) if policy is not None else [])
        if not left:
            return SUCCESS
        taint = left[0]
        shown = f"{taint.key}={taint.value}" if taint.value else taint.key
        more = f" (and {len(left) - 1} more)" if len(left) > 1 else ""
        return Status(
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            self.name,
            f"taint {shown}:{taint.effect}{more} is not tolerated: "
            "add a toleration to spec.policy.tolerations",
        )
