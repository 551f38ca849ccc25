"""Entry point of the ``infleet`` command: one sub-command per module of this package."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from infleet.cli import engine_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infleet", description="Multi-cluster LLM inference platform")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    engine_command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result
