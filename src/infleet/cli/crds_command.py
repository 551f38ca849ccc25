"""The ``infleet crds`` sub-command: write the generated CustomResourceDefinitions (deploy/crds)."""

from __future__ import annotations

import argparse
from pathlib import Path

from infleet.api.crds import write_crds


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("crds", help="write the CRDs generated from the API types")
    parser.add_argument("--out", type=Path, default=Path("deploy/crds"), help="output directory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    for path in write_crds(args.out):
        print(path)
    return 0
