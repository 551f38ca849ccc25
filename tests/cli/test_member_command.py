"""``infleet member`` as an operator runs it: a process heartbeating one member into the hub and applying
its Works, stopped by SIGINT."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.apiserver_harness import Kubectl, ServerThread, subprocess_env

pytestmark = pytest.mark.kubectl

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = Path(sys.executable).parent / "kubectl"
HUB_OBJECTS = """
apiVersion: v1
kind: Namespace
metadata: {name: fleet-member-m1}
---
apiVersion: cluster.kubernetes-fleet.io/v1beta1
kind: InternalMemberCluster
metadata: {name: m1, namespace: fleet-member-m1}
spec: {state: Join, heartbeatPeriodSeconds: 1}
---
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: Work
metadata: {name: hello, namespace: fleet-member-m1}
spec:
  workload:
    manifests:
    - {apiVersion: v1, kind: ConfigMap, metadata: {name: hello, namespace: default}, data: {a: b}}
"""


def test_member_command_heartbeats_and_applies_work(tmp_path: Path) -> None:
    if not KUBECTL.exists():
        pytest.skip("the pinned kubectl is not installed")
    with ServerThread(tmp_path, clusters=("hub", "m1")) as server:
        hub = Kubectl(str(KUBECTL), server.kubeconfig, tmp_path / "cache")
        member = Kubectl(str(KUBECTL), server.kubeconfig, tmp_path / "cache", context="infleet-m1")
        for kubectl in (hub, member):
            kubectl.run("apply", "-f", str(ROOT / "deploy" / "crds"))
            kubectl.run("wait", "--for=condition=Established", "crd/works.placement.kubernetes-fleet.io")
        hub.run("apply", "-f", "-", input=HUB_OBJECTS)
        command = [sys.executable, "-m", "infleet", "member", "--kubeconfig", str(server.kubeconfig)]
        command += ["--context", "infleet-m1", "--hub-context", "infleet-hub", "--name", "m1"]
        process = subprocess.Popen(
            command, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            hub.run("wait", "--for=condition=Applied", "-n", "fleet-member-m1", "work/hello", "--timeout=20s")
            data = member.run("get", "configmap", "hello", "-o", "jsonpath={.data}").stdout
            assert json.loads(data) == {"a": "b"}
            jsonpath = "jsonpath={.status.agentStatus[0].conditions[0].status}"
            hub.run("wait", f"--for={jsonpath}=True", "-n", "fleet-member-m1", "imc/m1", "--timeout=20s")
        finally:
            process.send_signal(signal.SIGINT)
            try:
                code = process.wait(15)
            finally:
                if process.poll() is None:
                    process.kill()
        assert code == 0, process.stdout.read().decode() if process.stdout else ""
