"""The built-in autoscaler: replicas from engine load, HPA's rule with stabilization windows, scale to
zero after an idle period, and wake on demand.

desired = ceil(ready x per-replica metric / target) (queue depth per replica or KV-cache usage), within
[max(minReplicas, 1), maxReplicas]; scale-ups take the lowest recommendation of the up window and
scale-downs the highest of the down window, as HPA does. With ``scaleToZeroAfterSeconds`` an idle
deployment (no requests, nothing queued or running) drops to zero; the wake annotation (set by the
gateway) or any write of replicas >= 1 (scale subresource: HPA, KEDA, kubectl) brings it back. The
reconciler's autoscaling phase calls :meth:`Autoscaler.decide`; the decision goes to status, never to
spec (see ``infleet.models.replica_ownership``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from infleet.api.aitoolchain_io.v1.model_deployment import Autoscaling, Serving

TOLERANCE = 0.1


@dataclass
class ScalerState:
    """What one deployment's autoscaler remembers between reconciles (in memory)."""

    recommendations: list[tuple[float, int]] = field(default_factory=list)
    last_active: float | None = None
    last_active_wall: float | None = None  # the same moment on the wall clock, for status
    last_replicas: int | None = None


@dataclass(frozen=True)
class Decision:
    replicas: int
    reason: str
    message: str


def per_replica_load(policy: Autoscaling, serving: Serving, ready: int) -> float:
    if policy.metric == "kvCacheUsage":
        return serving.kv_cache_usage
    return serving.queue_depth / max(ready, 1)


def is_active(serving: Serving | None) -> bool:
    return serving is not None and (
        serving.requests_per_second > 0 or serving.queue_depth > 0 or serving.running_requests > 0
    )


class Autoscaler:
    """One per controller; keeps a :class:`ScalerState` per deployment key."""

    def __init__(self) -> None:
        self.states: dict[str, ScalerState] = {}

    def forget(self, key: str) -> None:
        self.states.pop(key, None)

    def decide(
        self,
        key: str,
        policy: Autoscaling,
        current: int,
        ready: int,
        serving: Serving | None,
        now: float,
        wake_requested: bool = False,
    ) -> Decision:
        """The replica count to run now (``current`` when nothing should change)."""
        state = self.states.setdefault(key, ScalerState())
        floor = max(policy.min_replicas, 1)
        woken = state.last_replicas == 0 and current > 0
        state.last_replicas = current
        if state.last_active is None or woken or is_active(serving):
            state.last_active = now
        if current == 0:
            if wake_requested:
                state.last_active, state.last_replicas = now, floor
                state.recommendations.clear()
                return Decision(floor, "WakeRequested", f"woken on demand to {floor} replicas")
            return Decision(0, "ScaledToZero", "idle; the wake annotation or the scale subresource wakes it")
        idle_for = now - state.last_active
        if policy.scale_to_zero_after_seconds is not None and idle_for >= policy.scale_to_zero_after_seconds:
            state.recommendations.clear()
            return Decision(0, "Idle", f"no requests for {idle_for:.0f}s (scaleToZeroAfterSeconds)")
        raw = self._raw(policy, current, ready, serving)
        state.recommendations.append((now, raw))
        horizon = max(policy.scale_up_stabilization_seconds, policy.scale_down_stabilization_seconds)
        state.recommendations = [(t, r) for t, r in state.recommendations if now - t <= horizon]
        desired = current
        if raw > current:
            window = [r for t, r in state.recommendations if now - t <= policy.scale_up_stabilization_seconds]
            desired = max(current, min(window))
        elif raw < current:
            window = [
                r for t, r in state.recommendations if now - t <= policy.scale_down_stabilization_seconds
            ]
            desired = min(current, max(window))
        desired = min(max(desired, floor), policy.max_replicas)
        if desired == current:
            return Decision(current, "Stable", f"recommendation {raw}, holding {current}")
        verb = "up" if desired > current else "down"
        value = per_replica_load(policy, serving, ready) if serving is not None else 0.0
        return Decision(
            desired,
            f"Scaled{verb.capitalize()}",
            f"{policy.metric} {value:.2f} per replica vs target {policy.target:g}",
        )

    @staticmethod
    def _raw(policy: Autoscaling, current: int, ready: int, serving: Serving | None) -> int:
        floor = max(policy.min_replicas, 1)
        if serving is None or ready == 0:
            return min(max(current, floor), policy.max_replicas)
        ratio = per_replica_load(policy, serving, ready) / policy.target
        if abs(ratio - 1.0) <= TOLERANCE:
            return min(max(current, floor), policy.max_replicas)
        return min(max(math.ceil(ready * ratio), floor), policy.max_replicas)
