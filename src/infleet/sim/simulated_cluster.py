"""One simulated member cluster: nodes, kubelet, scheduler and workload controllers on a Manager.

``infleet up`` and integration tests call :func:`add_simulated_cluster` once per cluster; everything it
adds talks to the cluster over HTTP through ``infleet.kube``, so it runs against any API server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from infleet.api.kubernetes import (
    CONFIGMAP,
    CONTROLLER_REVISION,
    CRONJOB,
    DAEMONSET,
    DEPLOYMENT,
    ENDPOINT_SLICE,
    ENDPOINTS,
    JOB,
    LEASE,
    NODE,
    NODE_LEASE_NAMESPACE,
    POD,
    POD_DISRUPTION_BUDGET,
    REPLICASET,
    SECRET,
    SERVICE,
    STATEFULSET,
)
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.controller import ControllerSettings
from infleet.kube.informer import InformerSettings
from infleet.kube.manager import Manager
from infleet.sim.cronjob_controller import CronJobController
from infleet.sim.daemonset_controller import DaemonSetController
from infleet.sim.deployment_controller import DeploymentController
from infleet.sim.disruption_controller import DisruptionController
from infleet.sim.endpoint_slices import EndpointSliceController
from infleet.sim.endpoints_controller import EndpointsController
from infleet.sim.engine_launcher import EngineLauncher
from infleet.sim.job_controller import JobController
from infleet.sim.kubelet import Kubelet
from infleet.sim.kubelet_streams import KubeletStreams
from infleet.sim.node_heartbeat import NodeHeartbeat
from infleet.sim.node_lifecycle import NodeLifecycleController
from infleet.sim.node_pools import NodePool
from infleet.sim.pod_logs import KubeletLogServer, PodLogs
from infleet.sim.replicaset_controller import ReplicaSetController
from infleet.sim.resource_metrics import ResourceMetrics
from infleet.sim.scheduler import Scheduler
from infleet.sim.settings import SimSettings
from infleet.sim.statefulset_controller import StatefulSetController


@dataclass
class SimulatedCluster:
    """Handles on the parts, for tests and for printing what runs."""

    name: str
    heartbeat: NodeHeartbeat
    kubelet: Kubelet
    scheduler: Scheduler
    log_server: KubeletLogServer


def add_simulated_cluster(
    manager: Manager,
    client: ClusterClient,
    pools: Sequence[NodePool],
    settings: SimSettings,
    launcher: EngineLauncher,
) -> SimulatedCluster:
    """Add the simulated cluster's runnables to ``manager``; call ``heartbeat.register()`` before running."""
    name = client.name
    pods = manager.informer(client, POD)
    nodes = manager.informer(client, NODE)
    leases = manager.informer(client, LEASE, InformerSettings(namespace=NODE_LEASE_NAMESPACE))
    deployments = manager.informer(client, DEPLOYMENT)
    replicasets = manager.informer(client, REPLICASET)
    statefulsets = manager.informer(client, STATEFULSET)
    revisions = manager.informer(client, CONTROLLER_REVISION)
    daemonsets = manager.informer(client, DAEMONSET)
    jobs = manager.informer(client, JOB)
    cronjobs = manager.informer(client, CRONJOB)
    services = manager.informer(client, SERVICE)
    endpoints = manager.informer(client, ENDPOINTS)
    endpoint_slices = manager.informer(client, ENDPOINT_SLICE)
    budgets = manager.informer(client, POD_DISRUPTION_BUDGET)
    workers = ControllerSettings(workers=8, needs_leader=False)
    single = ControllerSettings(workers=1, needs_leader=False)

    logs = PodLogs(settings.log_dir / name)
    kubelet = Kubelet(client, pods, nodes, settings, launcher, logs)

    async def lookup(kind: str, namespace: str, object_name: str) -> dict[str, Any] | None:
        try:
            return await client.get(SECRET if kind == "Secret" else CONFIGMAP, object_name, namespace)
        except KubeAPIError as error:
            if error.not_found:
                return None
            raise

    streams = KubeletStreams(kubelet.process_of, logs, lookup, settings.kubelet_token)
    log_server = KubeletLogServer(
        logs,
        kubelet.uid_of,
        settings.kubelet_host,
        settings.kubelet_port,
        settings.kubelet_token,
        extra_routes=streams.routes(),
    )
    resource_metrics = ResourceMetrics(kubelet)

    async def metrics_resource(request: Request) -> Response:
        return PlainTextResponse(await resource_metrics.render(), media_type="text/plain; version=0.0.4")

    log_server.add_route("/metrics/resource", metrics_resource)
    manager.add(log_server)
    controller = manager.controller(f"{name}/kubelet", kubelet, workers)
    kubelet.requeue = controller.queue.add
    controller.watch_for(pods)
    controller.watch_mapped(nodes, kubelet.pods_on_node)

    scheduler = Scheduler(client, pods, nodes)
    controller = manager.controller(f"{name}/scheduler", scheduler, single)
    scheduler.requeue = partial(controller.queue.add_after, delay=1.0)
    controller.watch_mapped(pods, scheduler.on_pod)
    controller.watch_mapped(nodes, scheduler.on_node)

    deployment_controller = DeploymentController(client, deployments, replicasets, pods)
    controller = manager.controller(f"{name}/deployment", deployment_controller, workers)
    controller.watch_for(deployments)
    controller.watch_owned(replicasets, "Deployment", "apps")

    replicaset_controller = ReplicaSetController(client, replicasets, pods)
    controller = manager.controller(f"{name}/replicaset", replicaset_controller, workers)
    controller.watch_for(replicasets)
    controller.watch_owned(pods, "ReplicaSet", "apps")

    statefulset_controller = StatefulSetController(client, statefulsets, pods, revisions)
    controller = manager.controller(f"{name}/statefulset", statefulset_controller, workers)
    controller.watch_for(statefulsets)
    controller.watch_owned(pods, "StatefulSet", "apps")
    controller.watch_owned(revisions, "StatefulSet", "apps")

    daemonset_controller = DaemonSetController(client, daemonsets, pods, nodes, revisions)
    controller = manager.controller(f"{name}/daemonset", daemonset_controller, workers)
    controller.watch_for(daemonsets)
    controller.watch_owned(pods, "DaemonSet", "apps")
    controller.watch_owned(revisions, "DaemonSet", "apps")
    controller.watch_mapped(nodes, daemonset_controller.daemonsets_for_node)

    job_controller = JobController(client, jobs, pods)
    controller = manager.controller(f"{name}/job", job_controller, workers)
    controller.watch_for(jobs)
    controller.watch_owned(pods, "Job", "batch")

    cronjob_controller = CronJobController(client, cronjobs, jobs)
    controller = manager.controller(f"{name}/cronjob", cronjob_controller, workers)
    controller.watch_for(cronjobs)
    controller.watch_owned(jobs, "CronJob", "batch")

    endpoints_controller = EndpointsController(client, services, pods, endpoints)
    controller = manager.controller(f"{name}/endpoints", endpoints_controller, workers)
    controller.watch_for(services)
    controller.watch_mapped(pods, endpoints_controller.services_of_pod)

    slice_controller = EndpointSliceController(client, services, pods, endpoint_slices)
    controller = manager.controller(f"{name}/endpointslice", slice_controller, workers)
    controller.watch_for(services)
    controller.watch_mapped(pods, endpoints_controller.services_of_pod)
    controller.watch_owned(endpoint_slices, "Service")

    scaled = {"Deployment": deployments, "StatefulSet": statefulsets}
    disruption_controller = DisruptionController(client, budgets, pods, scaled)
    controller = manager.controller(f"{name}/disruption", disruption_controller, workers)
    controller.watch_for(budgets)
    controller.watch_mapped(pods, disruption_controller.budgets_of_pod)
    for informer in scaled.values():
        controller.watch_mapped(informer, disruption_controller.budgets_of_namespace)

    lifecycle = NodeLifecycleController(client, nodes, leases, pods, settings)
    controller = manager.controller(f"{name}/node-lifecycle", lifecycle, single)
    controller.watch_for(nodes)

    heartbeat = NodeHeartbeat(client, name, pools, nodes, settings, log_server.port)
    manager.add(heartbeat)
    return SimulatedCluster(name, heartbeat, kubelet, scheduler, log_server)
