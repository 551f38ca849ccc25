"""Settings of the hub's controllers: when a silent member counts as unhealthy, how long a leaving
member's agent is waited for, when a placement fails over, and how many workers each controller runs.
``add_hub_controllers`` takes one; ``infleet hub`` and ``infleet up`` build it from their options.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class HubSettings:
    #: A member is unhealthy when its last heartbeat is older than this many heartbeat periods ...
    heartbeat_timeout_periods: float = 3.0
    #: ... but never sooner than this (a 1 s period must not flap on one slow write).
    min_heartbeat_timeout_seconds: float = 15.0
    #: A fixed threshold replacing the two above (None: derive it from heartbeatPeriodSeconds).
    heartbeat_timeout_seconds: float | None = None
    #: How long a deleted member's agent may take to acknowledge Leave before the hub cleans up anyway.
    leave_timeout_seconds: float = 30.0
    #: A PickN placement moves off a member unhealthy this long (a placement's annotation can override).
    failover_after_seconds: float = 60.0
    #: How often a placement re-reads what its Namespace selectors bring (objects change without events).
    placement_resync_seconds: float = 60.0
    placement_workers: int = 16
    membership_workers: int = 8
    status_mirror_workers: int = 8
    #: Hub controllers write only while their process leads (several hub replicas may run).
    needs_leader: bool = True

    def heartbeat_timeout(self, heartbeat_period_seconds: float) -> float:
        """Seconds without a heartbeat after which a member with this period is unhealthy."""
        if self.heartbeat_timeout_seconds is not None:
            return self.heartbeat_timeout_seconds
        return max(
            self.heartbeat_timeout_periods * heartbeat_period_seconds, self.min_heartbeat_timeout_seconds
        )
