"""Who owns the replica count: ``spec.replicas`` belongs to its writers, the autoscaler's count to status.

Without ``spec.autoscaling``, ``spec.replicas`` is the count that runs, whoever writes it (a user, a
fleet hub, HPA or KEDA through the scale subresource). With it, the built-in autoscaler never writes
spec: its decision is ``status.autoscaling.desiredReplicas``, next to ``observedSpecReplicas``, the
spec.replicas it decided against. A spec.replicas that differs from that is a write from outside
(``kubectl scale``, an edit, a fleet rollout), which the autoscaler takes as its new starting count.
So a hub that propagates this object sees no drift from autoscaling, and the scale subresource still
scales: a new count is where the autoscaler starts from, so scaling a deployment that sleeps at zero to
1 or more wakes it. A write of the count spec.replicas already holds changes nothing (the API server
sees no change); the wake annotation always wakes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infleet.api.aitoolchain_io.v1.model_deployment import ModelDeploymentSpec


def running_replicas(spec: ModelDeploymentSpec, status: Mapping[str, Any] | None) -> int:
    """The replica count that runs now: the autoscaler's last decision unless spec.replicas moved since."""
    if spec.autoscaling is None:
        return spec.replicas
    auto = (status or {}).get("autoscaling") or {}
    desired, observed_spec = auto.get("desiredReplicas"), auto.get("observedSpecReplicas")
    if desired is None or (observed_spec is not None and observed_spec != spec.replicas):
        return spec.replicas
    return int(desired)
