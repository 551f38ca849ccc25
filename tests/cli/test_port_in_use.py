"""A port that is already taken ends a command with one clear sentence, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def run_infleet(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INFLEET_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "infleet", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)


def test_up_on_a_taken_api_server_port_says_so(tmp_path: Path, taken_port: int) -> None:
    result = run_infleet(tmp_path, "up", "--port-base", str(taken_port), "--gateway-port", "0")
    assert result.returncode == 2
    assert f"127.0.0.1:{taken_port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert "infleet up --help" in result.stderr


def test_up_on_a_taken_gateway_port_says_so_before_starting_anything(tmp_path: Path, taken_port: int) -> None:
    result = run_infleet(tmp_path, "up", "--port-base", "0", "--gateway-port", str(taken_port))
    assert result.returncode == 2
    assert f"127.0.0.1:{taken_port}, the global gateway's port (--gateway-port), is already in use" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "home" / "kubeconfig").exists(), "nothing started"
