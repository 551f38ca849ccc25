"""Fail when a Python module grows past the size limit (`make lint` runs it).

Large modules hide several concepts; DESIGN.md asks for one concept per module.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def oversized_modules(root: Path, max_lines: int) -> list[tuple[Path, int]]:
    """Return every ``*.py`` under ``root`` with more than ``max_lines`` lines."""
    found = []
    for path in sorted(root.rglob("*.py")):
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > max_lines:
            found.append((path, count))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path)
    parser.add_argument("--max-lines", type=int, default=800)
    args = parser.parse_args()
    offenders = oversized_modules(args.root, args.max_lines)
    for path, count in offenders:
        print(f"{path}: {count} lines (limit {args.max_lines}); split it by concept", file=sys.stderr)
    return 1 if offenders else 0


if __name__ == "__main__":
    sys.exit(main())
