"""The simulated node lifecycle controller: a node with a dead kubelet (fail fault) or a Lease older than
``node_lease_grace`` goes Ready=Unknown with the unreachable taints, and its pods turn Failed (NodeLost)
so their owners replace them elsewhere. Real clusters evict after a 300 s toleration; the sim at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from infleet.api.kubernetes import NODE, POD
from infleet.api.labels import UNREACHABLE_TAINT
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import get_condition, set_condition
from infleet.kube.events import WARNING, EventRecorder
from infleet.kube.informer import Informer
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status
from infleet.sim import faults
from infleet.sim.event_sink import EventSink
from infleet.sim.kubelet import is_simulated, remove_pod
from infleet.sim.settings import SimSettings
from infleet.sim.workload_pods import is_terminal


def lease_age(lease: dict[str, Any] | None, now: float) -> float | None:
    renewed = ((lease or {}).get("spec") or {}).get("renewTime")
    if not renewed:
        return None
    return now - datetime.fromisoformat(str(renewed).replace("Z", "+00:00")).timestamp()


class NodeLifecycleController:
    def __init__(
        self,
        client: ClusterClient,
        nodes: Informer,
        leases: Informer,
        pods: Informer,
        settings: SimSettings,
        clock: Clock | None = None,
    ) -> None:
        self.client, self.nodes, self.leases, self.pods, self.settings = client, nodes, leases, pods, settings
        self.clock: Clock = clock or SystemClock()
        self.events = EventSink(EventRecorder(client, "node-controller", self.clock))

    async def reconcile(self, request: Request) -> Result:
        node = self.nodes.store.get(request.name)
        if node is None or not is_simulated(node):
            return Result()
        age = lease_age(self.leases.store.get(request.name, "kube-node-lease"), self.clock.wall())
        stale = age is not None and age > self.settings.node_lease_grace
        if faults.is_failed(node) or stale:
            await self._mark_lost(node)
        return Result(requeue_after=self.settings.node_lease_grace / 2)

    async def _mark_lost(self, node: dict[str, Any]) -> None:
        name = node["metadata"]["name"]
        ready = get_condition((node.get("status") or {}).get("conditions"), "Ready")
        if ready is None or ready.get("status") != "Unknown":
            now = self.clock.wall()

            def unknown(status: dict[str, Any]) -> None:
                set_condition(
                    status.setdefault("conditions", []),
                    "Ready",
                    "Unknown",
                    "NodeStatusUnknown",
                    "Kubelet stopped posting node status.",
                    now=now,
                )

            await patch_status(self.client, NODE, node, unknown)
            taints = [
                t for t in (node.get("spec") or {}).get("taints") or [] if t.get("key") != UNREACHABLE_TAINT
            ]
            taints += [
                {"key": UNREACHABLE_TAINT, "effect": "NoSchedule"},
                {"key": UNREACHABLE_TAINT, "effect": "NoExecute"},
            ]
            await self.client.patch(NODE, name, {"spec": {"taints": taints}})
            self.events.emit(node, WARNING, "NodeNotReady", f"Node {name} status is now: NodeNotReady")
        for pod in self.pods.store.list():
            if (pod.get("spec") or {}).get("nodeName") != name:
                continue
            if pod["metadata"].get("deletionTimestamp"):
                # No kubelet will finish its graceful deletion: removed, as kube's pod GC removes the
                # terminating pods of an out-of-service node.
                await remove_pod(self.client, pod)
                continue
            if is_terminal(pod):
                continue
            message = f"Node {name} which was running pod {pod['metadata']['name']} is unresponsive"

            def lost(status: dict[str, Any], message: str = message) -> None:
                status["phase"] = "Failed"
                status["reason"] = "NodeLost"
                status["message"] = message
                conditions = status.setdefault("conditions", [])
                set_condition(conditions, "Ready", False, "NodeLost", message, now=self.clock.wall())

            try:
                await patch_status(self.client, POD, pod, lost)
            except KubeAPIError as error:
                if not error.not_found:
                    raise
