"""What one membership reconcile works on: the MemberCluster as last written, its InternalMemberCluster,
and the informers both come from. Shared by the join phases (``membership``) and the leave flow
(``member_leave``), which each update ``obj`` with what the server returns after every write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import member_namespace
from infleet.fleet.hub.member_health import member_agent_status
from infleet.kube.informer import Informer

#: KubeFleet's default when a MemberCluster omits spec.heartbeatPeriodSeconds.
DEFAULT_HEARTBEAT_PERIOD_SECONDS = 60


@dataclass
class Informers:
    """The hub caches the membership controller reads: MemberClusters, their IMCs and namespaces."""

    members: Informer
    imcs: Informer
    namespaces: Informer


@dataclass
class Membership:
    obj: dict[str, Any]
    imc: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return member_namespace(self.name)

    @property
    def generation(self) -> int | None:
        generation = self.obj["metadata"].get("generation")
        return int(generation) if generation is not None else None

    @property
    def imc_status(self) -> dict[str, Any] | None:
        return (self.imc or {}).get("status")

    @property
    def agent(self) -> dict[str, Any] | None:
        """The member agent's agentStatus entry in the InternalMemberCluster (None before it reports)."""
        return member_agent_status(self.imc_status)


def heartbeat_period(member: dict[str, Any]) -> int:
    return int((member.get("spec") or {}).get("heartbeatPeriodSeconds") or DEFAULT_HEARTBEAT_PERIOD_SECONDS)
