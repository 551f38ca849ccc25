"""`infleet gateway`: runs the OpenAI-compatible inference gateway from a config file (native or LiteLLM),
from the fleet (``--context``: every placed ModelDeployment, live from the API), or from both."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from infleet.cli.apiserver_command import infleet_home
from infleet.gateway.fleet_discovery import FleetDiscovery
from infleet.kube.cluster_client import ClusterClient


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("gateway", help="run the OpenAI-compatible inference gateway")
    parser.add_argument(
        "--config", default=None, help="gateway.yaml, or a LiteLLM proxy config file (wins over discovery)"
    )
    parser.add_argument(
        "--context",
        default=None,
        help="discover models from this kubeconfig context: a hub (every member) or one member cluster",
    )
    parser.add_argument("--kubeconfig", default=None, help="default $KUBECONFIG or ~/.infleet/kubeconfig")
    parser.add_argument(
        "--cluster", default="", help="with --context naming a member cluster: its name, for routing"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--redis-url", default=None, help="share rate limits with other gateways, redis://host:6379/0"
    )
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    parser.set_defaults(run=run)


def discovery_from(args: argparse.Namespace) -> FleetDiscovery | None:
    """Fleet discovery for ``--context`` (against ``--kubeconfig``), or None without one."""
    if not args.context:
        return None
    kubeconfig = args.kubeconfig or os.environ.get("KUBECONFIG") or infleet_home() / "kubeconfig"
    client = ClusterClient.from_kubeconfig(kubeconfig, args.context, args.cluster or args.context)
    return FleetDiscovery(client, local_cluster=args.cluster)


def run(args: argparse.Namespace) -> int:
    from infleet.gateway.config import ConfigError
    from infleet.gateway.server import serve

    if args.config is None and args.context is None:
        print(
            "infleet gateway: give --config FILE, --context CONTEXT (fleet discovery), or both",
            file=sys.stderr,
        )
        return 2
    try:
        serve(args.config, args.host, args.port, args.redis_url, args.log_level, discovery_from(args))
    except ConfigError as exc:
        print(f"infleet gateway: {exc}", file=sys.stderr)
        return 2
    return 0
