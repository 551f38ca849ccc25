"""`infleet gateway`: runs the OpenAI-compatible inference gateway from a config file (native or LiteLLM)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("gateway", help="run the OpenAI-compatible inference gateway")
    parser.add_argument("--config", required=True, help="gateway.yaml, or a LiteLLM proxy config file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--redis-url", default=None, help="share rate limits with other gateways, redis://host:6379/0"
    )
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infleet.gateway.config import ConfigError
    from infleet.gateway.server import serve

    try:
        serve(args.config, args.host, args.port, args.redis_url, args.log_level)
    except ConfigError as exc:
        print(f"infleet gateway: {exc}", file=sys.stderr)
        return 2
    return 0
