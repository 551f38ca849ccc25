"""``infleet models`` as an operator runs it: a process serving one cluster of a kubeconfig, with
health and metrics endpoints, stopped by SIGINT."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.apiserver_harness import Kubectl, ServerThread, subprocess_env

pytestmark = pytest.mark.kubectl

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = Path(sys.executable).parent / "kubectl"
NODE = """
apiVersion: v1
kind: Node
metadata:
  name: gpu-0
  labels: {nvidia.com/gpu.product: NVIDIA-L40S, nvidia.com/gpu.count: "2"}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_models_command_reconciles_and_serves_metrics(tmp_path: Path) -> None:
    if not KUBECTL.exists():
        pytest.skip("the pinned kubectl is not installed")
    with ServerThread(tmp_path) as server:
        kubectl = Kubectl(str(KUBECTL), server.kubeconfig, tmp_path / "cache")
        kubectl.run("apply", "-f", str(ROOT / "deploy" / "crds"))
        kubectl.run("wait", "--for=condition=Established", "crd/modeldeployments.aitoolchain.io")
        kubectl.run("apply", "-f", "-", input=NODE)
        port = free_port()
        command = [sys.executable, "-m", "infleet", "models", "--kubeconfig", str(server.kubeconfig)]
        command += ["--context", "infleet-hub", "--health-port", str(port), "--scrape-interval", "1"]
        process = subprocess.Popen(
            command, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            kubectl.run("apply", "-f", str(ROOT / "examples" / "modeldeployment-qwen2-7b.yaml"))
            kubectl.run("wait", "--for=jsonpath={.status.gpu}=2xL40S", "md/qwen2-7b", "--timeout=20s")
            replicas = kubectl.run("get", "deployment", "qwen2-7b", "-o", "jsonpath={.spec.replicas}").stdout
            assert replicas == "3"
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            assert (
                'controller_runtime_reconcile_total{controller="modeldeployment",result="success"}' in metrics
            )
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        finally:
            process.send_signal(signal.SIGINT)
            try:
                code = process.wait(15)
            finally:
                if process.poll() is None:
                    process.kill()
        assert code == 0, process.stdout.read().decode() if process.stdout else ""
