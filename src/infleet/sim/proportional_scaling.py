"""Scaling a Deployment caught mid-rollout (or paused there): its active ReplicaSets grow or shrink in
proportion to their sizes, as kube-controller-manager scales them, so neither the old nor the new
template takes the whole change.

Each set's share is its size times the new allowed total (``replicas + maxSurge``) over the total it was
last scaled for (its ``deployment.kubernetes.io/max-replicas`` annotation), rounded; what rounding leaves
goes to the largest set.
"""

from __future__ import annotations

import math

from infleet.api.labels import DESIRED_REPLICAS_ANNOTATION, MAX_REPLICAS_ANNOTATION
from infleet.sim.deployment_replicasets import (
    ReplicaSet,
    age,
    replicas_of,
)


def is_scaling_event(active: list[ReplicaSet], replicas: int) -> bool:
    """``replicas`` changed since the active sets were last scaled (their desired-replicas annotation)."""
    for rs in active:
        desired = (rs["metadata"].get("annotations") or {}).get(DESIRED_REPLICAS_ANNOTATION)
        if desired is not None and desired != str(replicas):
            return True
    return False


def proportional_sizes(active: list[ReplicaSet], max_total: int, fallback_total: int) -> dict[str, int]:
    """New sizes, by name, of several active ReplicaSets that together should be ``max_total``;
    ``fallback_total`` (the Deployment's status replicas) stands in for a missing max-replicas annotation."""
    sizes = {rs["metadata"]["name"]: replicas_of(rs) for rs in active}
    to_add = max_total - sum(sizes.values())
    if to_add == 0 or not active:
        return sizes
    # Largest first; on a tie the newer set grows first and the older one shrinks first.
    by_age = sorted(active, key=age, reverse=to_add > 0)
    order = sorted(by_age, key=lambda rs: -replicas_of(rs))
    added = 0
    for rs in order:
        share = _share(rs, max_total, fallback_total)
        allowed = to_add - added
        share = min(share, allowed) if to_add > 0 else max(share, allowed)
        sizes[rs["metadata"]["name"]] += share
        added += share
    first = order[0]["metadata"]["name"]
    sizes[first] = max(0, sizes[first] + to_add - added)
    return sizes


def _share(rs: ReplicaSet, max_total: int, fallback_total: int) -> int:
    """How many replicas this set gains (or loses) for its part of the new total."""
    size = replicas_of(rs)
    if size == 0:
        return 0
    if max_total == 0:
        return -size
    annotated = (rs["metadata"].get("annotations") or {}).get(MAX_REPLICAS_ANNOTATION, "")
    previous = int(annotated) if annotated.isdigit() else fallback_total
    if previous <= 0:
        return 0
    return math.floor(size * max_total / previous + 0.5) - size  # half away from zero, as kube rounds
