"""The ``karpenter.sh/disruption=disrupting:NoSchedule`` taint: put on a node before it is drained or
replaced so nothing new lands there, and taken off when a disruption is abandoned. Disruption and
termination both use it.
"""

from __future__ import annotations

from typing import Any

from infleet.api.kubernetes import NODE
from infleet.api.labels import DISRUPTION_TAINT
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient

DISRUPTING = "disrupting"


def has_disruption_taint(node: dict[str, Any]) -> bool:
    return any(t.get("key") == DISRUPTION_TAINT for t in (node.get("spec") or {}).get("taints") or [])


async def _write_taints(client: ClusterClient, node: dict[str, Any], taints: list[dict[str, Any]]) -> None:
    # Guarded by resourceVersion, so a concurrent writer's taint is not lost; the caller retries.
    metadata = node["metadata"]
    # A merge patch carrying resourceVersion is refused (409) if the node changed since it was read.
    patch = {"metadata": {"resourceVersion": metadata["resourceVersion"]}, "spec": {"taints": taints}}
    try:
        await client.patch(NODE, metadata["name"], patch)
    except KubeAPIError as error:
        if not error.not_found:
            raise


async def _fresh(client: ClusterClient, node: dict[str, Any]) -> dict[str, Any] | None:
    # Callers hold cached copies; the guarded write needs the server's resourceVersion.
    try:
        return await client.get(NODE, node["metadata"]["name"])
    except KubeAPIError as error:
        if error.not_found:
            return None
        raise


async def taint(client: ClusterClient, node: dict[str, Any]) -> None:
    """Add the disruption taint unless the node has it."""
    if has_disruption_taint(node):
        return
    fresh = await _fresh(client, node)
    if fresh is None or has_disruption_taint(fresh):
        return
    taints = list((fresh.get("spec") or {}).get("taints") or [])
    taints.append({"key": DISRUPTION_TAINT, "value": DISRUPTING, "effect": "NoSchedule"})
    await _write_taints(client, fresh, taints)


async def untaint(client: ClusterClient, node: dict[str, Any]) -> None:
    """Remove the disruption taint (a replacement failed: the node serves on)."""
    fresh = await _fresh(client, node)
    if fresh is None or not has_disruption_taint(fresh):
        return
    taints = [t for t in (fresh.get("spec") or {}).get("taints") or [] if t.get("key") != DISRUPTION_TAINT]
    await _write_taints(client, fresh, taints)
