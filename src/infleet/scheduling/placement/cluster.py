"""A member cluster as the placement scheduler sees it: name, labels, raw reported properties, taints and
the membership facts eligibility needs. The hub's scheduler controller builds one per MemberCluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import Taint
from infleet.api.quantity import parse_quantity


@dataclass(frozen=True, slots=True)
class ClusterCandidate:
    """One member cluster. `properties` hold the values exactly as reported (quantity strings, or names
    for region and cloud); `seconds_since_heartbeat` is None when the agent never reported."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    joined: bool = True
    healthy: bool = True
    seconds_since_heartbeat: float | None = 0.0
    deleting: bool = False

    def quantity(self, name: str) -> Decimal | None:
        """A property as a number; None when missing or not a quantity (callers say which)."""
        raw = self.properties.get(name)
        if raw is None:
            return None
        try:
            return parse_quantity(raw)
        except ValueError:
            return None

    def count(self, name: str) -> int:
        """A count-like property (GPUs, nodes, slots) as a whole number, 0 when missing or bad."""
        value = self.quantity(name)
        return int(value) if value is not None and value > 0 else 0
