"""``infleet apiserver``: run the embedded Kubernetes-compatible API server on its own."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from infleet.apiserver.server import APIServerSettings, EmbeddedAPIServer
from infleet.cli import event_loop


def infleet_home() -> Path:
    return Path(os.environ.get("INFLEET_HOME", Path.home() / ".infleet"))


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "apiserver", help="run the embedded Kubernetes-compatible API server"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=6443, help="port to listen on; 0 picks a free one")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where objects are stored (default $INFLEET_HOME/apiserver)",
    )
    parser.add_argument(
        "--cluster",
        action="append",
        dest="clusters",
        metavar="NAME",
        help="a logical cluster to serve under /clusters/NAME (repeatable; default: hub)",
    )
    parser.add_argument(
        "--kubeconfig-out",
        type=Path,
        default=None,
        help="kubeconfig to write (default $INFLEET_HOME/kubeconfig)",
    )
    parser.add_argument(
        "--tls",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve https with a generated CA and a bearer token (default); --no-tls serves plain http",
    )
    parser.add_argument(
        "--insecure-allow-remote",
        action="store_true",
        help="allow --no-tls on a non-loopback --host (no token: anyone who reaches it is admin)",
    )
    parser.set_defaults(run=run)


async def serve(settings: APIServerSettings) -> None:
    server = EmbeddedAPIServer(settings)
    await server.start()
    print(f"infleet apiserver listening on {server.base_url}", flush=True)
    for name in settings.clusters:
        print(f"  cluster {name}: {server.cluster_url(name)} (context infleet-{name})", flush=True)
    if settings.kubeconfig_out is not None:
        print(f"  kubeconfig: {settings.kubeconfig_out}", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    await server.stop()
    print("infleet apiserver stopped", flush=True)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    home = infleet_home()
    settings = APIServerSettings(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir or home / "apiserver",
        clusters=args.clusters or ["hub"],
        kubeconfig_out=args.kubeconfig_out or home / "kubeconfig",
        tls=args.tls,
        allow_insecure_remote=args.insecure_allow_remote,
    )
    try:
        settings.validate()
    except ValueError as exc:
        print(f"infleet apiserver: {exc}", file=sys.stderr)
        return 2
    event_loop.run(serve(settings))
    return 0
