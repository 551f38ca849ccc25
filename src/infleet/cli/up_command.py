"""``infleet up``: the whole platform on one machine, in one process.

Starts the embedded API server with a hub and member clusters, each with simulated GPU nodes, kubelet,
scheduler, workload controllers and the models controller (CRDs installed everywhere), the fleet's hub
controllers and one member agent per member (each member joins the hub as a MemberCluster); writes the
kubeconfig (``$INFLEET_HOME/kubeconfig``) and prints what runs where. Ctrl-C stops everything; a second
run resumes from the state directory (objects persist, nodes are not created twice).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import time
from pathlib import Path
from typing import Any

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import MEMBER_CLUSTER
from infleet.api.crds import all_crds
from infleet.api.kubernetes import CONFIGMAP, CUSTOM_RESOURCE_DEFINITION, NAMESPACE
from infleet.apiserver.private_files import private_directory
from infleet.apiserver.server import APIServerSettings, EmbeddedAPIServer
from infleet.cli import event_loop
from infleet.cli.apiserver_command import infleet_home
from infleet.cli.gateway_process import GatewayProcess, check_port_free, gateway_port, start_gateway
from infleet.cli.up_compute import add_member_compute, ensure_compute_objects
from infleet.fleet.hub.hub_manager import add_hub_controllers
from infleet.fleet.hub.hub_settings import HubSettings
from infleet.fleet.member.agent import add_member_agent
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClientFactory, ClusterClient
from infleet.kube.controller import ControllerSettings
from infleet.kube.informer import InformerSettings
from infleet.kube.manager import Manager, ManagerSettings
from infleet.models.manager import add_models_controller
from infleet.sim.cluster_reachability import ClusterReachability
from infleet.sim.engine_launcher import EngineLauncher
from infleet.sim.engine_pods import SimulatedEngineLauncher
from infleet.sim.faults import FAULTS_NAMESPACE
from infleet.sim.kubelet import Kubelet
from infleet.sim.mini_engine import MiniEngineLauncher
from infleet.sim.node_pools import default_pools
from infleet.sim.node_restart import report_stopped_containers
from infleet.sim.settings import SimSettings
from infleet.sim.simulated_cluster import SimulatedCluster, add_simulated_cluster

DEFAULT_CLUSTERS = "us-east,eu-west,ap-southeast"
HUB = "hub"


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "up", help="start a hub and simulated GPU member clusters on this machine"
    )
    parser.add_argument(
        "--clusters", default=DEFAULT_CLUSTERS, help=f"member clusters (default {DEFAULT_CLUSTERS})"
    )
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="state directory (default $INFLEET_HOME/state)"
    )
    parser.add_argument(
        "--port-base",
        type=int,
        default=6443,
        help="API server port; member N's kubelet endpoint uses port-base+N (default 6443; 0: free ports)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=0.05,
        help="factor on simulated delays: image pulls, model loads, restart backoff (default 0.05)",
    )
    parser.add_argument(
        "--tls", action=argparse.BooleanOptionalAction, default=True, help="serve https (default)"
    )
    parser.add_argument(
        "--gateway-port",
        type=int,
        default=None,
        help="port of the global OpenAI-compatible gateway (default 8000; with --port-base 0 a free one)",
    )
    parser.add_argument(
        "--heartbeat-period",
        type=int,
        default=5,
        help="seconds between member agents' heartbeats (MemberCluster heartbeatPeriodSeconds, default 5)",
    )
    parser.add_argument(
        "--failover-after",
        type=float,
        default=20.0,
        help="seconds a member may be unhealthy before PickN placements move off it (default 20)",
    )
    parser.set_defaults(run=run)


def parse_clusters(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ValueError("--clusters: name at least one member cluster, e.g. --clusters us-east")
    if HUB in names:
        raise ValueError(f"--clusters: {HUB!r} is the control-plane cluster; name only member clusters")
    return names


async def _ensure_namespace(client: ClusterClient, name: str) -> None:
    try:
        await client.create(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except KubeAPIError as error:
        if not error.conflict:
            raise


def _summary(
    server: EmbeddedAPIServer,
    kubeconfig: Path,
    sims: list[SimulatedCluster],
    created: int,
    started: float,
    state_dir: Path,
    gateway_url: str,
) -> str:
    lines = [
        f"infleet up: API server {server.base_url} (clusters under /clusters/<name>)",
        f"  hub: fleet control plane (members join as MemberClusters), context infleet-{HUB}",
    ]
    for sim in sims:
        nodes = sim.heartbeat.node_names()
        gpus = sum(pool.gpus_per_node * pool.count for pool in sim.heartbeat.pools)
        skus = ", ".join(
            f"{pool.count}x {pool.instance_type} ({pool.gpus_per_node}x {pool.gpu})"
            for pool in sim.heartbeat.pools
        )
        lines.append(
            f"  {sim.name}: {len(nodes)} nodes, {gpus} GPUs [{skus}]; kubelet logs on "
            f"127.0.0.1:{sim.log_server.port}; context infleet-{sim.name}"
        )
    lines += [
        f"  state: {state_dir} ({'resumed' if created == 0 else f'{created} nodes created'})",
        f"  kubeconfig: {kubeconfig}",
        f"  gateway: {gateway_url} (OpenAI-compatible; every placed model, from every member)",
        f"ready in {time.monotonic() - started:.1f}s. Next:",
        f"  export KUBECONFIG={kubeconfig}",
        f"  kubectl --context infleet-{sims[0].name} get nodes -L nvidia.com/gpu.product",
        f"  kubectl --context infleet-{sims[0].name} apply -f examples/llm-deployment.yaml",
        f"  kubectl --context infleet-{sims[0].name} apply -f examples/modeldeployment-qwen2-7b.yaml",
        f"  kubectl --context infleet-{HUB} apply -f examples/fleet/   # place a model on the fleet",
        f"  kubectl --context infleet-{HUB} get memberclusters,crp",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


async def _ensure_member_cluster(hub: ClusterClient, name: str, heartbeat_period: int) -> None:
    """Join ``name`` to the fleet as an administrator would: a MemberCluster on the hub."""
    member = {
        "apiVersion": MEMBER_CLUSTER.api_version,
        "kind": MEMBER_CLUSTER.kind,
        "metadata": {"name": name},
        "spec": {
            "identity": {
                "kind": "ServiceAccount",
                "name": f"fleet-member-agent-{name}",
                "namespace": "fleet-system",
            },
            "heartbeatPeriodSeconds": heartbeat_period,
        },
    }
    try:
        await hub.create(MEMBER_CLUSTER, member)
    except KubeAPIError as error:
        if not error.conflict:
            raise


async def _ensure_crds(client: ClusterClient) -> None:
    """Install Infleet's CRDs (generated from the API types), replacing older versions of them."""
    for crd in all_crds():
        try:
            await client.create(CUSTOM_RESOURCE_DEFINITION, crd)
        except KubeAPIError as error:
            if not error.conflict:
                raise
            current = await client.get(CUSTOM_RESOURCE_DEFINITION, crd["metadata"]["name"])
            version = {"resourceVersion": current["metadata"]["resourceVersion"]}
            await client.replace(
                CUSTOM_RESOURCE_DEFINITION, {**crd, "metadata": {**crd["metadata"], **version}}
            )


def engine_launcher() -> EngineLauncher:
    """Engine pods get the simulated vLLM engine for catalog models, else the minimal responder."""
    return SimulatedEngineLauncher(fallback=MiniEngineLauncher())


async def serve(args: argparse.Namespace, members: list[str]) -> None:
    started = time.monotonic()
    # Signals are taken before anything starts, so Ctrl-C at any moment stops cleanly.
    manager = Manager(ManagerSettings(name="infleet-up", handle_signals=False))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, manager.stop)
    home = infleet_home()
    state_dir: Path = private_directory(args.state_dir or home / "state")
    private_directory(home)  # the kubeconfig there holds the admin token
    kubeconfig = home / "kubeconfig"
    server = EmbeddedAPIServer(
        APIServerSettings(
            port=args.port_base,
            data_dir=state_dir / "apiserver",
            clusters=(HUB, *members),
            kubeconfig_out=kubeconfig,
            tls=args.tls,
            bookmark_interval=30.0,
        )
    )
    port = gateway_port(args)
    check_port_free(port)
    await server.start()
    factory = ClientFactory(kubeconfig)
    launcher = engine_launcher()
    gateway: GatewayProcess | None = None
    try:
        hub = factory.client(f"infleet-{HUB}", HUB)
        await _ensure_namespace(hub, FAULTS_NAMESPACE)
        await _ensure_crds(hub)
        faults = manager.informer(hub, CONFIGMAP, InformerSettings(namespace=FAULTS_NAMESPACE))
        kubelets: dict[str, Kubelet] = {}

        async def power(cluster: str, on: bool) -> None:
            await kubelets[cluster].power(on)

        reachability = ClusterReachability(faults, members, server.set_cluster_reachable, power)
        manager.controller(
            "hub/cluster-reachability", reachability, ControllerSettings(needs_leader=False)
        ).watch_for(faults)
        add_hub_controllers(
            manager, hub, HubSettings(failover_after_seconds=args.failover_after, needs_leader=False)
        )
        sims = []
        created = 0
        for index, member in enumerate(members, start=1):
            settings = SimSettings(
                time_scale=args.time_scale,
                log_dir=state_dir / "pod-logs",
                kubelet_port=args.port_base + index if args.port_base else 0,
                cluster_index=index,
                kubelet_token=server.token,
            )
            client = factory.client(f"infleet-{member}", member)
            sim = add_simulated_cluster(manager, client, default_pools(member), settings, launcher)
            await _ensure_crds(client)
            add_models_controller(manager, client)
            await ensure_compute_objects(client, member, args.time_scale)
            add_member_compute(manager, client, args.time_scale)
            await _ensure_member_cluster(hub, member, args.heartbeat_period)
            add_member_agent(manager, hub, client, member)
            created += await sim.heartbeat.register()
            # Engines died with the previous process: no replica is ready until it has started again.
            await report_stopped_containers(client, time.time())
            sims.append(sim)
            kubelets[member] = sim.kubelet
        gateway = await start_gateway(kubeconfig, port)
        print(_summary(server, kubeconfig, sims, created, started, state_dir, gateway.url), flush=True)
        await manager.run()
        for sim in sims:
            await sim.scheduler.drain()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if gateway is not None:
            await gateway.stop()
        await launcher.close()
        await factory.close()
        await server.stop()
    print("infleet up: stopped", flush=True)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        members = parse_clusters(args.clusters)
    except ValueError as exc:
        print(f"infleet up: {exc}")
        return 2
    event_loop.run(serve(args, members))
    return 0
