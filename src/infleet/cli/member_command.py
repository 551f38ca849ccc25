"""The ``infleet member`` sub-command: run the member agent of one member cluster, talking to the hub
through one kubeconfig context and to its own cluster through another (embedded or real)."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from infleet.cli import event_loop
from infleet.cli.apiserver_command import infleet_home
from infleet.fleet.member.agent import MemberAgentSettings, add_member_agent
from infleet.kube.cluster_client import ClientFactory
from infleet.kube.manager import Manager, ManagerSettings


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "member", help="run the member agent: heartbeat and Work applier of one member cluster"
    )
    parser.add_argument("--hub-kubeconfig", type=Path, default=None, help="default: --kubeconfig")
    parser.add_argument("--hub-context", required=True, help="kubeconfig context of the hub cluster")
    parser.add_argument("--kubeconfig", type=Path, default=None, help="default $KUBECONFIG or ~/.infleet")
    parser.add_argument("--context", required=True, help="kubeconfig context of this member cluster")
    parser.add_argument("--name", required=True, help="the member's name (its MemberCluster on the hub)")
    parser.add_argument("--health-port", type=int, default=None, help="serve /healthz and /metrics here")
    parser.set_defaults(run=run)


def _kubeconfig(path: Path | None) -> Path:
    return path or Path(os.environ.get("KUBECONFIG") or infleet_home() / "kubeconfig")


async def serve(args: argparse.Namespace) -> None:
    member_config = _kubeconfig(args.kubeconfig)
    hub_factory = ClientFactory(args.hub_kubeconfig or member_config)
    member_factory = ClientFactory(member_config)
    try:
        hub = hub_factory.client(args.hub_context, "hub")
        member = member_factory.client(args.context, args.name)
        manager = Manager(ManagerSettings(name=f"infleet-member-{args.name}", health_port=args.health_port))
        add_member_agent(manager, hub, member, args.name, MemberAgentSettings())
        await manager.run()
    finally:
        await hub_factory.close()
        await member_factory.close()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    event_loop.run(serve(args))
    return 0
