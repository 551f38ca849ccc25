"""Entry point of the ``infleet`` command: one sub-command per module of this package."""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Sequence

from infleet.cli import (
    apiserver_command,
    compute_command,
    crds_command,
    engine_command,
    gateway_command,
    hub_command,
    member_command,
    models_command,
    up_command,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infleet", description="Multi-cluster LLM inference platform")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up_command.register(commands)
    apiserver_command.register(commands)
    gateway_command.register(commands)
    engine_command.register(commands)
    models_command.register(commands)
    compute_command.register(commands)
    hub_command.register(commands)
    member_command.register(commands)
    crds_command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        # The one failure a user meets on a first run (a second `infleet up`, another server on
        # 6443 or 8000): a sentence, not a traceback.
        print(
            f"infleet {args.command}: {error.strerror}. Another `infleet up` or server may be running: "
            f"stop it, or choose other ports (see `infleet {args.command} --help`).",
            file=sys.stderr,
        )
        return 2
    return result
