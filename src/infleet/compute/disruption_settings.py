"""Settings of the compute layer's disruption side: the disruption loop's period, how long a replacement
may take, how often a drain is retried, how far ahead of a spot reclaim the drain is forced, and how
long a consolidation command waits before it is validated and carried out.
``add_disruption_controllers`` takes one; tests shorten the periods.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DisruptionSettings:
    #: Karpenter's disruption loop polls every 10 s.
    poll_interval_seconds: float = 10.0
    #: A replacement NodeClaim that is not Initialized by then is abandoned and the old node kept.
    replacement_timeout_seconds: float = 900.0
    #: How soon a drain that is waiting on pods (PDBs, do-not-disrupt, pods still going) looks again.
    drain_retry_seconds: float = 1.0
    #: Pods on a reclaimed spot node are evicted regardless of PDBs this long before the deadline.
    interruption_drain_margin_seconds: float = 30.0
    #: Karpenter considers at most 100 candidates per multi-node consolidation.
    max_candidates: int = 100
    #: Karpenter's consolidationValidationPeriod: an Emptiness or consolidation command is checked again
    #: this long after it was computed, and carried out only if still valid. 0 carries it out at once.
    consolidation_validation_seconds: float = 15.0
