"""Whether this member is in the fleet: the hub's word, ``spec.state`` of its InternalMemberCluster.

The heartbeat reports only while joined, and the work applier applies only while joined; on Leave both
stop and placed resources stay where they are, as in KubeFleet.
"""

from __future__ import annotations

from typing import Any

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import member_namespace
from infleet.kube.store import Store

JOIN = "Join"
LEAVE = "Leave"


def internal_member_cluster(store: Store, member: str) -> dict[str, Any] | None:
    """The member's InternalMemberCluster (named after the member, in ``fleet-member-<member>``)."""
    return store.get(member, member_namespace(member))


def state(imc: dict[str, Any] | None) -> str | None:
    """``Join``, ``Leave``, or None while the hub has not created the InternalMemberCluster."""
    if imc is None:
        return None
    return str((imc.get("spec") or {}).get("state") or "") or None


def is_joined(store: Store, member: str) -> bool:
    return state(internal_member_cluster(store, member)) == JOIN
