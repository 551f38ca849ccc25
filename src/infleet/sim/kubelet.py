"""The simulated kubelet of one cluster: runs the pods bound to its simulated nodes on timers (image pull
cached per node, engine start through the :mod:`~infleet.sim.engine_launcher` hook, model load, Ready).
A pod with the fail fault crash-loops with backoff; a node with the fail fault has a dead kubelet.
Status is written once per reconcile; logs go to :class:`~infleet.sim.pod_logs.PodLogs`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infleet.api.kubernetes import POD
from infleet.api.labels import (
    ENGINE_PORT_ANNOTATION,
    EXIT_CODE_ANNOTATION,
    GPU_MEMORY_LABEL,
    GPU_PRODUCT_LABEL,
    GPU_RESOURCE,
)
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import set_condition, timestamp
from infleet.kube.events import NORMAL, WARNING, EventRecorder
from infleet.kube.informer import Informer, InformerEvent
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status
from infleet.sim import faults, pod_timing
from infleet.sim.engine_launcher import (
    EngineEndpoint,
    EngineLauncher,
    EngineSpec,
    container_port,
    engine_model,
    is_engine_pod,
)
from infleet.sim.event_sink import EventSink
from infleet.sim.kubelet_streams import PodProcess
from infleet.sim.pod_logs import PodLogs
from infleet.sim.scheduler_filters import pod_requests
from infleet.sim.settings import SimSettings

log = logging.getLogger(__name__)

PULLING, LOADING, READY, BACKOFF, FAILED = "pulling", "loading", "ready", "backoff", "failed"
SUCCEEDED = "succeeded"


@dataclass
class PodRuntime:
    """What the kubelet remembers of one pod it runs (by uid)."""

    uid: str
    namespace: str
    name: str
    node: str
    ip: str
    engine: bool
    stage: str = PULLING
    until: float = 0.0
    restarts: int = 0
    started_at: str | None = None
    start_time: str = field(default_factory=timestamp)
    endpoint: EngineEndpoint | None = None
    last_termination: dict[str, Any] | None = None
    exits_at: float | None = None  # when a container with a finite command exits (run-seconds)


def _finished(pod: dict[str, Any]) -> bool:
    """Deleted, or ended (Succeeded or Failed): its containers no longer run."""
    phase = (pod.get("status") or {}).get("phase")
    return bool(pod["metadata"].get("deletionTimestamp")) or phase in ("Succeeded", "Failed")


async def remove_pod(client: ClusterClient, pod: dict[str, Any]) -> None:
    """Finish a pod's deletion (grace period 0, this very pod by uid): what a kubelet does once its
    containers stopped, and kube's pod GC for pods no kubelet will finish."""
    metadata = pod["metadata"]
    options = {"gracePeriodSeconds": 0, "preconditions": {"uid": metadata["uid"]}}
    try:
        await client.delete(POD, metadata["name"], metadata["namespace"], options=options)
    except KubeAPIError as error:
        if not (error.not_found or error.code == 409):  # gone, or replaced under its name
            raise


def is_simulated(node: dict[str, Any] | None) -> bool:
    return str(((node or {}).get("spec") or {}).get("providerID", "")).startswith("sim://")


class Kubelet:
    """Reconciles pods on simulated nodes; ``runtimes`` is the node-side truth (engines, timers)."""

    def __init__(
        self,
        client: ClusterClient,
        pods: Informer,
        nodes: Informer,
        settings: SimSettings,
        launcher: EngineLauncher,
        logs: PodLogs,
        clock: Clock | None = None,
    ) -> None:
        self.client, self.pods, self.nodes = client, pods, nodes
        self.settings, self.launcher, self.logs = settings, launcher, logs
        self.clock: Clock = clock or SystemClock()
        self.events = EventSink(EventRecorder(client, "kubelet", self.clock))
        self.runtimes: dict[str, PodRuntime] = {}
        #: False during a whole-cluster outage (``down-clusters``): every node is off and nothing moves.
        self.powered = True
        #: Set by the wiring to the controller's queue, so a boot restarts every pod's containers.
        self.requeue: Callable[[Request], None] | None = None
        self._by_key: dict[str, str] = {}
        self._images: dict[str, set[str]] = {}
        self._models: dict[str, set[str]] = {}

    # -- watches ----------------------------------------------------------------------------------

    def pods_on_node(self, event: InformerEvent) -> list[Request]:
        name = event.obj["metadata"]["name"]
        return [
            Request(event.cluster, pod["metadata"]["namespace"], pod["metadata"]["name"])
            for pod in self.pods.store.list()
            if (pod.get("spec") or {}).get("nodeName") == name
        ]

    def uid_of(self, namespace: str, name: str) -> str | None:
        return self._by_key.get(f"{namespace}/{name}")

    def process_of(self, namespace: str, name: str) -> PodProcess | None:
        """What runs for a pod on this kubelet now (for exec, attach and port-forward), or None."""
        uid = self._by_key.get(f"{namespace}/{name}")
        runtime = self.runtimes.get(uid) if uid else None
        pod = self.pods.store.get(name, namespace)
        if runtime is None or pod is None or pod["metadata"]["uid"] != uid:
            return None
        ports: dict[int, tuple[str, int]] = {}
        if runtime.endpoint is not None:
            container = ((pod.get("spec") or {}).get("containers") or [{}])[0]
            ports[container_port(container)] = (runtime.endpoint.host, runtime.endpoint.port)
        running = runtime.stage in (LOADING, READY) and self.powered
        model = engine_model(pod) if runtime.engine else None
        labels = ((self.nodes.store.get(runtime.node) or {}).get("metadata") or {}).get("labels") or {}
        memory = str(labels.get(GPU_MEMORY_LABEL, ""))
        return PodProcess(
            pod,
            runtime.uid,
            runtime.node,
            runtime.ip,
            running,
            ports,
            model,
            gpu_product=str(labels.get(GPU_PRODUCT_LABEL, "")),
            gpu_memory_mib=int(memory) if memory.isdigit() else 0,
        )

    # -- reconcile --------------------------------------------------------------------------------

    async def power(self, on: bool) -> None:
        """A whole-cluster outage: every node off (engines stopped), then booted (containers restart)."""
        self.powered = on
        now = self.clock.now()
        for runtime in self.runtimes.values():
            if not on:
                if runtime.endpoint is not None:
                    await self.launcher.stop(runtime.uid)
                    runtime.endpoint = None
                continue
            if runtime.stage in (LOADING, READY):
                runtime.last_termination = {
                    "terminated": {
                        "exitCode": 137,
                        "reason": "NodeShutdown",
                        "startedAt": runtime.started_at,
                        "finishedAt": timestamp(self.clock.wall()),
                    }
                }
                runtime.restarts += 1
                runtime.stage, runtime.until = BACKOFF, now  # start again at once, as after a reboot
            if self.requeue is not None:
                self.requeue(Request(self.client.name, runtime.namespace, runtime.name))

    async def reconcile(self, request: Request) -> Result:
        if not self.powered:
            return Result()  # the cluster is down; power(True) requeues every pod
        pod = await self._current(request)
        if pod is None:
            return Result()
        node_name = (pod.get("spec") or {}).get("nodeName")
        node = self.nodes.store.get(node_name) if node_name else None
        if node is None and node_name and pod["metadata"].get("deletionTimestamp"):
            # kube-controller-manager's pod GC: a terminating pod whose node is gone has nobody to stop
            # its containers, so it is removed.
            await remove_pod(self.client, pod)
            return Result()
        if node is None or not is_simulated(node):
            return Result()
        uid = pod["metadata"]["uid"]
        if pod["metadata"].get("deletionTimestamp") and not faults.is_failed(node):
            await self._terminate(pod, uid)
            return Result()
        # A dead node (its processes are gone, nothing on it moves) or a pod that is over.
        if faults.is_failed(node) or _finished(pod):
            await self._stop_engine(uid)
            return Result()
        runtime = self.runtimes.get(uid) or self._admit(pod, node)
        await self._advance(pod, node, runtime)
        await self._write_status(pod, runtime)
        if runtime.stage in (PULLING, LOADING, BACKOFF):
            return Result(requeue_after=max(0.001, runtime.until - self.clock.now()))
        if runtime.stage == READY and runtime.exits_at is not None:
            return Result(requeue_after=max(0.001, runtime.exits_at - self.clock.now()))
        return Result()

    async def _current(self, request: Request) -> dict[str, Any] | None:
        """The pod to reconcile; the runtime of a pod deleted (or replaced under its name) is forgotten."""
        pod = self.pods.store.get(request.name, request.namespace)
        old_uid = self._by_key.get(request.key)
        if old_uid and (pod is None or old_uid != pod["metadata"]["uid"]):
            await self._forget(old_uid, remove_logs=pod is None)
        return pod

    async def _terminate(self, pod: dict[str, Any], uid: str) -> None:
        """Graceful deletion: stop the pod's containers, then remove the pod (a delete with grace 0)."""
        runtime = self.runtimes.get(uid)
        if runtime is not None and runtime.stage != FAILED:
            names = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
            self.events.emit(pod, NORMAL, "Killing", f"Stopping container {', '.join(names)}")
            self._log(runtime, pod, "INFO received SIGTERM; shutting down")
        await self._stop_engine(uid)
        await remove_pod(self.client, pod)

    async def _stop_engine(self, uid: str) -> None:
        runtime = self.runtimes.get(uid)
        if runtime is not None and runtime.endpoint is not None:
            await self.launcher.stop(uid)
            runtime.endpoint = None

    def _admit(self, pod: dict[str, Any], node: dict[str, Any]) -> PodRuntime:
        metadata, node_name = pod["metadata"], node["metadata"]["name"]
        previous = sum(
            int(s.get("restartCount", 0)) for s in (pod.get("status") or {}).get("containerStatuses") or []
        )
        runtime = PodRuntime(
            uid=metadata["uid"],
            namespace=metadata["namespace"],
            name=metadata["name"],
            node=node_name,
            ip=self._allocate_ip(node),
            engine=is_engine_pod(pod),
            restarts=previous,
        )
        image = str(((pod.get("spec") or {}).get("containers") or [{}])[0].get("image", ""))
        if image in self._images.get(node_name, set()):
            runtime.until = self.clock.now()
        else:
            factor = faults.image_pull_factor(node)
            seconds = pod_timing.image_pull_seconds(pod, runtime.engine, self.settings, factor)
            runtime.until = self.clock.now() + self.settings.scaled(seconds)
            self._log(runtime, pod, f'Pulling image "{image}"')
        self.runtimes[runtime.uid] = runtime
        self._by_key[f"{runtime.namespace}/{runtime.name}"] = runtime.uid
        return runtime

    def _allocate_ip(self, node: dict[str, Any]) -> str:
        cidr = str((node.get("spec") or {}).get("podCIDR") or f"127.{self.settings.cluster_index}.0.0/24")
        prefix = cidr.split("/")[0].rsplit(".", 1)[0]
        used = {r.ip for r in self.runtimes.values() if r.node == node["metadata"]["name"]}
        for host in range(2, 255):
            candidate = f"{prefix}.{host}"
            if candidate not in used:
                return candidate
        return f"{prefix}.255"

    async def _advance(self, pod: dict[str, Any], node: dict[str, Any], runtime: PodRuntime) -> None:
        now = self.clock.now()
        if runtime.stage in (PULLING, BACKOFF) and now >= runtime.until:
            if runtime.stage == PULLING:
                self._images.setdefault(runtime.node, set()).add(self._image(pod))
                self.events.emit(pod, NORMAL, "Pulled", f'Successfully pulled image "{self._image(pod)}"')
            await self._start_container(pod, node, runtime)
        if runtime.stage == LOADING and self.clock.now() >= runtime.until:
            runtime.stage = READY
            if runtime.engine:
                self._models.setdefault(runtime.node, set()).add(engine_model(pod))
                self._log(runtime, pod, "INFO Application startup complete.")
        if faults.is_failed(pod) and runtime.stage in (LOADING, READY):
            await self._crash(pod, runtime)
        elif (
            runtime.stage in (LOADING, READY)
            and runtime.exits_at is not None
            and self.clock.now() >= runtime.exits_at
        ):
            self._exit(pod, runtime)

    async def _start_container(self, pod: dict[str, Any], node: dict[str, Any], runtime: PodRuntime) -> None:
        container = ((pod.get("spec") or {}).get("containers") or [{}])[0]
        if runtime.restarts:  # what the last run wrote is now `kubectl logs --previous`
            names = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
            self.logs.rotate(runtime.namespace, runtime.name, runtime.uid, names)
        runtime.started_at = timestamp(self.clock.wall())
        runtime.stage = LOADING
        self._log_sidecars_started(runtime, pod)
        self.events.emit(pod, NORMAL, "Started", f"Started container {container.get('name')}")
        if not runtime.engine:
            self._log(runtime, pod, f"container {container.get('name')} started (image {self._image(pod)})")
            runtime.until = self.clock.now() + self.settings.scaled(pod_timing.ready_seconds(pod))
            run = pod_timing.run_seconds(pod)
            runtime.exits_at = None if run is None else self.clock.now() + self.settings.scaled(run)
            return
        model = engine_model(pod)
        gpus = int(pod_requests(pod).get(GPU_RESOURCE, 0))
        spec = EngineSpec(
            runtime.namespace,
            runtime.name,
            runtime.uid,
            str(container.get("name")),
            self._image(pod),
            model,
            gpus,
            runtime.ip,
            container_port(container),
            args=tuple(
                str(word) for word in (container.get("command") or []) + (container.get("args") or [])
            ),
            gpu_product=str(((node.get("metadata") or {}).get("labels") or {}).get(GPU_PRODUCT_LABEL, "")),
        )
        runtime.endpoint = await self.launcher.start(spec)
        if runtime.endpoint.host != runtime.ip:
            runtime.ip = runtime.endpoint.host  # the OS refused the pod's own loopback address
        if runtime.endpoint.port != spec.port:
            patch = {"metadata": {"annotations": {ENGINE_PORT_ANNOTATION: str(runtime.endpoint.port)}}}
            await self.client.patch(POD, runtime.name, patch, runtime.namespace)
        cached = model in self._models.get(runtime.node, set())
        seconds = pod_timing.model_load_seconds(pod, model, gpus, cached, self.settings)
        runtime.until = self.clock.now() + self.settings.scaled(seconds)
        size = pod_timing.model_size_gib(model)
        self._log(
            runtime,
            pod,
            f"INFO Starting simulated engine for model {model} on {max(gpus, 1)} GPU(s)",
            f"INFO Loading weights ({size:.1f} GiB){' from the node cache' if cached else ''}",
            f"INFO Serving on http://{runtime.endpoint.host}:{runtime.endpoint.port}",
        )

    async def _crash(self, pod: dict[str, Any], runtime: PodRuntime) -> None:
        if runtime.endpoint is not None:
            await self.launcher.stop(runtime.uid)
            runtime.endpoint = None
        self._log(runtime, pod, "ERROR simulated failure (sim.infleet.io/fail); exiting with code 1")
        runtime.last_termination = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": runtime.started_at,
                "finishedAt": timestamp(self.clock.wall()),
            }
        }
        if (pod.get("spec") or {}).get("restartPolicy") == "Never":
            runtime.stage = FAILED
            return
        runtime.restarts += 1
        runtime.stage = BACKOFF
        backoff = pod_timing.restart_backoff(runtime.restarts, self.settings)
        runtime.until = self.clock.now() + self.settings.scaled(backoff)
        self.events.emit(pod, WARNING, "BackOff", "Back-off restarting failed container")

    def _exit(self, pod: dict[str, Any], runtime: PodRuntime) -> None:
        """The container's command ended (run-seconds): the pod succeeds or fails, or it restarts."""
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        text = str(annotations.get(EXIT_CODE_ANNOTATION, "0"))
        code = int(text) if text.lstrip("-").isdigit() else 1
        self._log(runtime, pod, f"container exited with code {code}")
        runtime.last_termination = {
            "terminated": {
                "exitCode": code,
                "reason": "Completed" if code == 0 else "Error",
                "startedAt": runtime.started_at,
                "finishedAt": timestamp(self.clock.wall()),
            }
        }
        runtime.exits_at = None
        policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
        if policy == "Never" or (policy == "OnFailure" and code == 0):
            runtime.stage = SUCCEEDED if code == 0 else FAILED
            return
        runtime.restarts += 1
        runtime.stage = BACKOFF
        backoff = pod_timing.restart_backoff(runtime.restarts, self.settings)
        runtime.until = self.clock.now() + self.settings.scaled(backoff)
        self.events.emit(pod, WARNING, "BackOff", "Back-off restarting failed container")

    async def _forget(self, uid: str, remove_logs: bool) -> None:
        runtime = self.runtimes.pop(uid, None)
        if runtime is None:
            return
        self._by_key.pop(f"{runtime.namespace}/{runtime.name}", None)
        await self.launcher.stop(uid)
        if remove_logs:
            self.logs.remove(runtime.namespace, runtime.name, uid)

    # -- status -----------------------------------------------------------------------------------

    def _image(self, pod: dict[str, Any]) -> str:
        return str(((pod.get("spec") or {}).get("containers") or [{}])[0].get("image", ""))

    def _log(self, runtime: PodRuntime, pod: dict[str, Any], *lines: str) -> None:
        """Lines of the pod's main container (the first: the engine of an engine pod)."""
        containers = (pod.get("spec") or {}).get("containers") or [{}]
        self.logs.write(runtime.namespace, runtime.name, runtime.uid, str(containers[0].get("name")), *lines)

    def _log_sidecars_started(self, runtime: PodRuntime, pod: dict[str, Any]) -> None:
        for container in ((pod.get("spec") or {}).get("containers") or [])[1:]:
            name = str(container.get("name"))
            line = f"container {name} started (image {container.get('image', '')})"
            self.logs.write(runtime.namespace, runtime.name, runtime.uid, name, line)

    def _container_state(self, runtime: PodRuntime, name: str) -> dict[str, Any]:
        if runtime.stage == PULLING:
            return {"waiting": {"reason": "ContainerCreating"}}
        if runtime.stage == BACKOFF:
            seconds = int(pod_timing.restart_backoff(runtime.restarts, self.settings))
            pod = f"{runtime.name}_{runtime.namespace}"
            message = f"back-off {seconds}s restarting failed container={name} pod={pod}"
            return {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
        if runtime.stage in (FAILED, SUCCEEDED):
            return runtime.last_termination or {"terminated": {"exitCode": 1, "reason": "Error"}}
        return {"running": {"startedAt": runtime.started_at}}

    async def _write_status(self, pod: dict[str, Any], runtime: PodRuntime) -> None:
        ready = runtime.stage == READY
        ended = runtime.stage in (FAILED, SUCCEEDED)
        now = self.clock.wall()

        def mutate(status: dict[str, Any]) -> None:
            conditions = status.setdefault("conditions", [])
            set_condition(conditions, "PodReadyToStartContainers", True, "", now=now)
            set_condition(conditions, "Initialized", True, "", now=now)
            reason = "" if ready else ("PodCompleted" if ended else "ContainersNotReady")
            set_condition(conditions, "Ready", ready, reason, now=now)
            set_condition(conditions, "ContainersReady", ready, reason, now=now)
            set_condition(conditions, "PodScheduled", True, "", now=now)
            statuses = []
            for container in (pod.get("spec") or {}).get("containers") or []:
                name = str(container.get("name"))
                entry: dict[str, Any] = {
                    "name": name,
                    "image": container.get("image"),
                    "imageID": f"sim://{container.get('image')}",
                    "ready": ready,
                    "started": runtime.stage in (LOADING, READY),
                    "restartCount": runtime.restarts,
                    "state": self._container_state(runtime, name),
                }
                if runtime.stage != PULLING:
                    entry["containerID"] = f"sim://{runtime.uid[:12]}-{runtime.restarts}"
                if runtime.last_termination is not None and not ended:
                    entry["lastState"] = runtime.last_termination
                statuses.append(entry)
            status["containerStatuses"] = statuses
            status["phase"] = {PULLING: "Pending", FAILED: "Failed", SUCCEEDED: "Succeeded"}.get(
                runtime.stage, "Running"
            )
            status["hostIP"] = "127.0.0.1"
            status["hostIPs"] = [{"ip": "127.0.0.1"}]
            status["podIP"] = runtime.ip
            status["podIPs"] = [{"ip": runtime.ip}]
            status["startTime"] = runtime.start_time
            status["qosClass"] = "Burstable"

        try:
            await patch_status(self.client, POD, pod, mutate)
        except KubeAPIError as error:
            if not error.not_found:
                raise  # a deleted pod is forgotten on its DELETED event
