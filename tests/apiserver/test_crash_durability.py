"""The crash benchmark as a test: three rounds of concurrent good and bad writers and a SIGKILL at a
random moment lose no acknowledged write, leave nothing half written and keep resourceVersions rising
(the benchmark exits 1 on any violation)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_three_kills_lose_nothing_acknowledged(tmp_path: Path) -> None:
    out = tmp_path / "crash.md"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "crash_durability.py"),
        "--rounds",
        "3",
        "--out",
        str(out),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    table = out.read_text()
    assert "| acknowledged writes lost | 0 |" in table
    acknowledged = int(table.split("| acknowledged writes | ")[1].split(" |")[0])
    assert acknowledged > 100, table
