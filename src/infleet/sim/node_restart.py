"""What the simulated kubelets report when they start in a new process: the containers of the
previous process are gone.

``infleet up`` runs every engine inside its own process, so after it is killed and started again the
stored pods still say Ready although nothing answers on their endpoints. A real node that reboots
reports its containers as exited before they start again; this does the same for every pod on the
cluster's simulated nodes, before any controller runs, so no ModelDeployment, Endpoints object or
gateway reports a replica ready until its engine has started again and passed its probe.
"""

from __future__ import annotations

from typing import Any

from infleet.api.kubernetes import NODE, POD
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import get_condition, set_condition
from infleet.kube.status_patch import patch_status
from infleet.sim.kubelet import is_simulated

REASON = "NodeRestarted"


async def report_stopped_containers(client: ClusterClient, now: float) -> int:
    """Mark every ready pod on a simulated node of ``client``'s cluster not ready; returns how many."""
    nodes = {node["metadata"]["name"] for node in (await client.list(NODE)).items if is_simulated(node)}
    stopped = 0
    for pod in (await client.list(POD)).items:
        if (pod.get("spec") or {}).get("nodeName") not in nodes or not _ready(pod):
            continue

        def mutate(status: dict[str, Any]) -> None:
            conditions = status.setdefault("conditions", [])
            for condition in ("Ready", "ContainersReady"):
                set_condition(conditions, condition, False, REASON, "the node's kubelet restarted", now=now)
            for container in status.get("containerStatuses") or []:
                container["ready"] = False
                container["started"] = False

        try:
            await patch_status(client, POD, pod, mutate)
        except KubeAPIError as error:
            if not error.not_found:
                raise
            continue
        stopped += 1
    return stopped


def _ready(pod: dict[str, Any]) -> bool:
    condition = get_condition((pod.get("status") or {}).get("conditions"), "Ready")
    return condition is not None and condition.get("status") == "True"
