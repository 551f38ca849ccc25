"""The ``infleet compute`` sub-command: run the compute controllers (provisioner, NodeClaim lifecycle,
NodePool and FlexNodeClass status) against one cluster of a kubeconfig. ``--mode karpenter`` (or ``auto``
finding a running Karpenter) runs only the status controllers beside Karpenter (:mod:`infleet.compute.mode`).
Only the simulated cloud provider exists so far: its nodes join clusters whose simulated kubelet adopts
``sim://`` Nodes."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from infleet.api.catalog import load_catalog
from infleet.cli import event_loop
from infleet.cli.apiserver_command import infleet_home
from infleet.compute.cloudprovider.simulated import SimulatedCloudProvider
from infleet.compute.manager import add_compute_controllers
from infleet.compute.mode import ComputeMode, resolve_mode
from infleet.kube.clock import SystemClock
from infleet.kube.cluster_client import ClientFactory
from infleet.kube.manager import Manager, ManagerSettings


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "compute", help="run the GPU node provisioning controllers (simulated cloud provider) for one cluster"
    )
    parser.add_argument("--kubeconfig", type=Path, default=None, help="default $KUBECONFIG or ~/.infleet")
    parser.add_argument("--context", required=True, help="kubeconfig context of the cluster to serve")
    parser.add_argument(
        "--provider",
        choices=["simulated"],
        default="simulated",
        help="simulated only, for now",
    )
    parser.add_argument(
        "--mode",
        choices=[mode.value for mode in ComputeMode],
        default=ComputeMode.INFLEET.value,
        help=(
            "infleet: Infleet provisions FlexNodeClass pools (default); karpenter: a Karpenter install "
            "provisions and disrupts, Infleet only writes status; auto: karpenter when a running Karpenter "
            "is found (an available Deployment labeled app.kubernetes.io/name=karpenter, or a fresh "
            "karpenter-leader-election Lease in kube-system or karpenter), decided at start"
        ),
    )
    parser.add_argument("--time-scale", type=float, default=0.05, help="scales simulated boot delays")
    parser.add_argument("--health-port", type=int, default=None, help="serve /healthz and /metrics here")
    parser.set_defaults(run=run)


async def serve(args: argparse.Namespace) -> None:
    kubeconfig = args.kubeconfig or Path(os.environ.get("KUBECONFIG") or infleet_home() / "kubeconfig")
    factory = ClientFactory(kubeconfig)
    try:
        client = factory.client(args.context)
        manager = Manager(ManagerSettings(name="infleet-compute", health_port=args.health_port))
        provider = SimulatedCloudProvider(client, load_catalog(), time_scale=args.time_scale)
        mode = await resolve_mode(client, args.mode, SystemClock())
        add_compute_controllers(manager, client, provider, mode=mode)
        await manager.run()
    finally:
        await factory.close()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    event_loop.run(serve(args))
    return 0
