"""The ``infleet hub`` sub-command: run the fleet's hub controllers (membership and health, placement
scheduling, rollout, Work, status back-reporting) against the hub cluster of a kubeconfig, embedded or
real, with optional leader election, health and metrics endpoints."""

from __future__ import annotations

import argparse
import logging
import os
import socket
from pathlib import Path
from typing import Any

from infleet.cli import event_loop
from infleet.cli.apiserver_command import infleet_home
from infleet.fleet.hub.hub_manager import build_manager
from infleet.fleet.hub.hub_settings import HubSettings
from infleet.kube.cluster_client import ClientFactory
from infleet.kube.leader_election import LeaderElectionSettings
from infleet.kube.manager import ManagerSettings

#: The namespace of the hub's own Lease, as KubeFleet keeps its hub agent in fleet-system.
HUB_SYSTEM_NAMESPACE = "fleet-system"


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "hub", help="run the fleet's hub controllers against a hub cluster"
    )
    parser.add_argument("--kubeconfig", type=Path, default=None, help="default $KUBECONFIG or ~/.infleet")
    parser.add_argument("--context", required=True, help="kubeconfig context of the hub cluster")
    parser.add_argument("--health-port", type=int, default=None, help="serve /healthz and /metrics here")
    parser.add_argument("--leader-elect", action="store_true", help="one active replica (Lease)")
    parser.add_argument(
        "--failover-after",
        type=float,
        default=HubSettings.failover_after_seconds,
        help="seconds a member may be unhealthy before PickN placements move off it (default 60)",
    )
    parser.set_defaults(run=run)


def settings_from(args: argparse.Namespace) -> tuple[ManagerSettings, HubSettings]:
    leader = None
    if args.leader_elect:
        identity = f"{socket.gethostname()}-{os.getpid()}"
        leader = LeaderElectionSettings("infleet-hub", identity, namespace=HUB_SYSTEM_NAMESPACE)
    manager = ManagerSettings(name="infleet-hub", health_port=args.health_port, leader_election=leader)
    return manager, HubSettings(failover_after_seconds=args.failover_after, needs_leader=args.leader_elect)


async def serve(args: argparse.Namespace) -> None:
    kubeconfig = args.kubeconfig or Path(os.environ.get("KUBECONFIG") or infleet_home() / "kubeconfig")
    factory = ClientFactory(kubeconfig)
    manager_settings, hub_settings = settings_from(args)
    try:
        await build_manager(factory.client(args.context), manager_settings, hub_settings).run()
    finally:
        await factory.close()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    event_loop.run(serve(args))
    return 0
