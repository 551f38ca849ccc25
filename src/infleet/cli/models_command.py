"""The ``infleet models`` sub-command: run the models controller against one cluster of a kubeconfig
(a member cluster, embedded or real), with optional leader election, health and metrics endpoints."""

from __future__ import annotations

import argparse
import logging
import os
import socket
from pathlib import Path
from typing import Any

from infleet.cli import event_loop
from infleet.cli.apiserver_command import infleet_home
from infleet.kube.cluster_client import ClientFactory
from infleet.kube.leader_election import LeaderElectionSettings
from infleet.kube.manager import ManagerSettings
from infleet.models.manager import ModelsSettings, build_manager


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "models", help="run the ModelDeployment controller against one cluster"
    )
    parser.add_argument("--kubeconfig", type=Path, default=None, help="default $KUBECONFIG or ~/.infleet")
    parser.add_argument("--context", required=True, help="kubeconfig context of the cluster to serve")
    parser.add_argument("--health-port", type=int, default=None, help="serve /healthz and /metrics here")
    parser.add_argument("--leader-elect", action="store_true", help="one active replica (Lease)")
    parser.add_argument("--scrape-interval", type=float, default=5.0, help="seconds between engine scrapes")
    parser.set_defaults(run=run)


def settings_from(args: argparse.Namespace) -> ModelsSettings:
    leader = None
    if args.leader_elect:
        identity = f"{socket.gethostname()}-{os.getpid()}"
        leader = LeaderElectionSettings("infleet-models", identity, namespace="default")
    manager = ManagerSettings(name="infleet-models", health_port=args.health_port, leader_election=leader)
    return ModelsSettings(
        manager=manager, scrape_interval=args.scrape_interval, needs_leader=args.leader_elect
    )


async def serve(args: argparse.Namespace) -> None:
    kubeconfig = args.kubeconfig or Path(os.environ.get("KUBECONFIG") or infleet_home() / "kubeconfig")
    factory = ClientFactory(kubeconfig)
    try:
        await build_manager(factory.client(args.context), settings_from(args)).run()
    finally:
        await factory.close()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    event_loop.run(serve(args))
    return 0
