"""The simulated kube-scheduler: binds pending pods (``pods/binding``) with the filters and score of
:mod:`~infleet.sim.scheduler_filters`. Unfit pods keep ``PodScheduled=False, Unschedulable`` and get a
FailedScheduling Event; they are retried when nodes or pods change. Bindings are assumed, then written in
the background, as kube-scheduler does, so two pods never take the same free GPUs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx2

from infleet.api.kubernetes import POD
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import get_condition, set_condition
from infleet.kube.events import NORMAL, WARNING, EventRecorder
from infleet.kube.informer import Informer, InformerEvent
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status
from infleet.sim.event_sink import EventSink
from infleet.sim.scheduler_filters import filter_node, free_resources, score_node, unschedulable_message

log = logging.getLogger(__name__)

SCHEDULER_NAME = "default-scheduler"
RETRY_SECONDS = 5.0


def is_pending(pod: dict[str, Any]) -> bool:
    spec, metadata = pod.get("spec") or {}, pod.get("metadata") or {}
    return (
        not spec.get("nodeName")
        and not metadata.get("deletionTimestamp")
        and spec.get("schedulerName", SCHEDULER_NAME) == SCHEDULER_NAME
        and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    )


def is_active(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


class Scheduler:
    """Reconciles pending pods of one cluster."""

    def __init__(
        self, client: ClusterClient, pods: Informer, nodes: Informer, clock: Clock | None = None
    ) -> None:
        self.client, self.pods, self.nodes = client, pods, nodes
        self.clock: Clock = clock or SystemClock()
        self.events = EventRecorder(client, SCHEDULER_NAME, self.clock)
        self.assumed: dict[str, tuple[str, dict[str, Any]]] = {}  # pod uid -> (node, pod)
        self.sink = EventSink(self.events)
        self.bound = 0
        self._binding: set[asyncio.Future[None]] = set()
        self.requeue: Callable[[Request], None] | None = None  # set by the owner: retry a failed binding

    def on_pod(self, event: InformerEvent) -> list[Request]:
        """A pending pod itself; every pending pod when a pod leaves or finishes (capacity freed)."""
        if event.type != "DELETED" and is_pending(event.obj):
            return [Request(event.cluster, event.obj["metadata"]["namespace"], event.obj["metadata"]["name"])]
        if event.type == "DELETED" or not is_active(event.obj):
            return self.on_node(event)
        return []

    def on_node(self, event: InformerEvent) -> list[Request]:
        """Every pending pod: a node came, went or changed."""
        return [
            Request(event.cluster, pod["metadata"]["namespace"], pod["metadata"]["name"])
            for pod in self.pods.store.list()
            if is_pending(pod)
        ]

    def _pods_by_node(self) -> dict[str, list[dict[str, Any]]]:
        placed: dict[str, list[dict[str, Any]]] = {}
        seen: set[str] = set()
        for pod in self.pods.store.list():
            node = (pod.get("spec") or {}).get("nodeName")
            uid = pod["metadata"]["uid"]
            if node:
                self.assumed.pop(uid, None)
                if is_active(pod):
                    placed.setdefault(node, []).append(pod)
            seen.add(uid)
        for uid, (node, pod) in list(self.assumed.items()):
            if uid not in seen:
                del self.assumed[uid]  # deleted before the cache saw the binding
            else:
                placed.setdefault(node, []).append(pod)
        return placed

    async def reconcile(self, request: Request) -> Result:
        pod = self.pods.store.get(request.name, request.namespace)
        if pod is None or not is_pending(pod) or pod["metadata"]["uid"] in self.assumed:
            return Result()
        placed = self._pods_by_node()
        nodes = self.nodes.store.list()
        reasons: list[str] = []
        best: tuple[float, str] | None = None
        for node in nodes:
            name = node["metadata"]["name"]
            free = free_resources(node, placed.get(name, []))
            failed = filter_node(pod, node, free)
            if failed:
                reasons.extend(failed)
                continue
            score = score_node(pod, free, node)
            if best is None or (score, name) > best:
                best = (score, name)
        if best is None:
            await self._unschedulable(pod, unschedulable_message(len(nodes), reasons))
            return Result(requeue_after=RETRY_SECONDS)
        node_name = best[1]
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": request.name, "namespace": request.namespace},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
        }
        # Assume, then bind in the background (as kube-scheduler does): the next pod is placed against the
        # assumed state while this binding's write commits.
        uid = pod["metadata"]["uid"]
        self.assumed[uid] = (node_name, pod)
        task = asyncio.ensure_future(self._bind(request, pod, binding, node_name))
        self._binding.add(task)
        task.add_done_callback(self._binding.discard)
        return Result()

    async def _bind(
        self, request: Request, pod: dict[str, Any], binding: dict[str, Any], node_name: str
    ) -> None:
        uid = pod["metadata"]["uid"]
        try:
            await self.client.create_subresource(POD, request.name, "binding", binding, request.namespace)
        except (KubeAPIError, httpx2.HTTPError, OSError) as error:
            self.assumed.pop(uid, None)
            if isinstance(error, KubeAPIError) and (error.not_found or error.conflict):
                return  # deleted, or bound by someone else meanwhile
            log.warning("binding %s to %s failed: %s; retrying", request, node_name, error)
            if self.requeue is not None:
                self.requeue(request)
            return
        self.bound += 1
        message = f"Successfully assigned {request.namespace}/{request.name} to {node_name}"
        await self.events.record(pod, NORMAL, "Scheduled", message)

    async def drain(self) -> None:
        """Wait for bindings in flight."""
        if self._binding:
            await asyncio.gather(*self._binding, return_exceptions=True)

    async def _unschedulable(self, pod: dict[str, Any], message: str) -> None:
        current = get_condition((pod.get("status") or {}).get("conditions"), "PodScheduled")
        if current is None or current.get("message") != message:
            self.sink.emit(pod, WARNING, "FailedScheduling", message)

        def mutate(status: dict[str, Any]) -> None:
            status.setdefault("phase", "Pending")
            set_condition(
                status.setdefault("conditions", []),
                "PodScheduled",
                False,
                "Unschedulable",
                message,
                now=self.clock.wall(),
            )

        try:
            await patch_status(self.client, POD, pod, mutate)
        except KubeAPIError as error:
            if not error.not_found:
                raise
