"""Graceful pod deletion, as kube-apiserver does it.

Deleting a pod that runs on a node does not remove it: the server stamps ``deletionTimestamp`` (now plus
the grace period) and ``deletionGracePeriodSeconds`` and answers with the pod; the node's kubelet stops
its containers and then deletes it again with a grace period of 0, which removes it. A pod that never
ran (no ``spec.nodeName``) or has ended (``Succeeded`` / ``Failed``) goes at once, and so does one
deleted with ``gracePeriodSeconds=0`` (``kubectl delete --force --grace-period=0``). A later delete may
shorten the grace period, never lengthen it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_GRACE_PERIOD_SECONDS = 30  # spec.terminationGracePeriodSeconds when unset


def grace_period(pod: Mapping[str, Any], requested: int | None) -> int:
    """Seconds the pod's containers get to stop: the request, else the pod's own setting."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
        return 0
    if requested is None:
        configured = spec.get("terminationGracePeriodSeconds")
        requested = configured if isinstance(configured, int) else DEFAULT_GRACE_PERIOD_SECONDS
    return 1 if requested < 0 else requested  # as kube-apiserver: a negative period means "soon", not now
