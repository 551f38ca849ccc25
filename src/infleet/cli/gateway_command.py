"""`infleet gateway`: runs the OpenAI-compatible inference gateway from a config file (native or LiteLLM),
from the fleet (``--context``: every placed ModelDeployment, live from the API), or from both."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from infleet.cli.apiserver_command import infleet_home
from infleet.gateway.fleet_discovery import FleetDiscovery
from infleet.gateway.waker import AnnotationWaker, MemberClients
from infleet.kube.cluster_client import ClientFactory, ClusterClient


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
    parser.add_argument(
        "--no-write-status",
        action="store_true",
        help="never write the status of ModelRoutes and GatewayKeys (by default the gateway holding the "
        "lease default/infleet-gateway-status in the --context cluster writes it)",
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
    client = ClusterClient.from_kubeconfig(_kubeconfig(args), args.context, args.cluster or args.context)
    return FleetDiscovery(client, local_cluster=args.cluster, write_status=not args.no_write_status)


def waker_from(args: argparse.Namespace, discovery: FleetDiscovery | None) -> AnnotationWaker | None:
    """Wakes models scaled to zero where discovery found them, and directly in every member cluster that
    is a context of the same kubeconfig (as in ``infleet up``): quicker than through the hub's copy."""
    if discovery is None:
        return None
    return AnnotationWaker(discovery.client, member_clients(_kubeconfig(args)))


def member_clients(kubeconfig: str | Path) -> MemberClients:
    """A member cluster's client from the context named ``infleet-<cluster>`` or ``<cluster>``."""
    factory = ClientFactory(kubeconfig)
    contexts = set(factory.contexts)

    def client(cluster: str) -> ClusterClient | None:
        for context in (f"infleet-{cluster}", cluster):
            if context in contexts:
                return factory.client(context, cluster)
        return None

    return client


def _kubeconfig(args: argparse.Namespace) -> str | Path:
    path: str | Path = args.kubeconfig or os.environ.get("KUBECONFIG") or infleet_home() / "kubeconfig"
    return path


def run(args: argparse.Namespace) -> int:
    from infleet.cli.event_loop import tune_gc
    from infleet.gateway.config import ConfigError
    from infleet.gateway.server import serve

    if args.config is None and args.context is None:
        print(
            "infleet gateway: give --config FILE, --context CONTEXT (fleet discovery), or both",
            file=sys.stderr,
        )
        return 2
    try:
        discovery = discovery_from(args)
        waker = waker_from(args, discovery)
        tune_gc()  # uvicorn runs the loop here, not event_loop.run: the same thresholds, set by hand
        serve(args.config, args.host, args.port, args.redis_url, args.log_level, discovery, waker)
    except ConfigError as exc:
        print(f"infleet gateway: {exc}", file=sys.stderr)
        return 2
    return 0
