"""ClusterEligibility: keeps clusters that may hold placements at all: joined, not being deleted, with a
recent heartbeat and, when the hub asks for failover, healthy. Runs for every policy type, PickFixed
included, as in KubeFleet.
"""

from __future__ import annotations

from infleet.scheduling.framework import SUCCESS, Code, Status
from infleet.scheduling.placement.cluster import ClusterCandidate
from infleet.scheduling.placement.cycle import PlacementCycle


class ClusterEligibility:
    """Differences from KubeFleet: the heartbeat timeout comes from the request (KubeFleet fixes 5
    minutes), and unhealthy clusters are excluded when `Eligibility.exclude_unhealthy` is set, where
    KubeFleet keeps them (it has no automatic failover)."""

    name = "ClusterEligibility"

    def filter(self, cycle: PlacementCycle, cluster: ClusterCandidate) -> Status:
        eligibility = cycle.request.eligibility
        if cluster.deleting:
            return Status(
                Code.UNSCHEDULABLE_AND_UNRESOLVABLE, self.name, "the member cluster is being deleted"
            )
        if not cluster.joined:
            return Status(Code.UNSCHEDULABLE, self.name, "the member cluster has not joined the fleet")
        since = cluster.seconds_since_heartbeat
        if since is None:
            return Status(Code.UNSCHEDULABLE, self.name, "the member agent has never sent a heartbeat")
        if since > eligibility.heartbeat_timeout_seconds:
            return Status(
                Code.UNSCHEDULABLE,
                self.name,
                f"last heartbeat {since:.0f}s ago, "
                f"over the {eligibility.heartbeat_timeout_seconds:.0f}s timeout",
            )
        if eligibility.exclude_unhealthy and not cluster.healthy:
            return Status(Code.UNSCHEDULABLE, self.name, "the member cluster is unhealthy (failover)")
        return SUCCESS
