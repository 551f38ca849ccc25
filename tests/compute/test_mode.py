"""Choosing the compute mode: ``auto`` finds a running Karpenter by an available Deployment labeled
``app.kubernetes.io/name=karpenter`` or a fresh leader-election Lease, and not by a Deployment scaled to
zero or a stale Lease; explicit modes are obeyed; ``auto`` is never wired unresolved."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from infleet.api.kubernetes import DEPLOYMENT, LEASE, NAMESPACE
from infleet.compute.manager import add_compute_controllers
from infleet.compute.mode import ComputeMode, detect_karpenter, resolve_mode
from infleet.kube.clock import ManualClock
from infleet.kube.conditions import timestamp
from infleet.kube.manager import Manager, ManagerSettings
from tests.compute.fake_provider import FakeProvider
from tests.compute.mode_cluster import ModeCluster, mode_cluster


async def _namespace(cluster: ModeCluster, name: str) -> None:
    await cluster.client.create(
        NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )


async def _deployment(cluster: ModeCluster, namespace: str, available: int) -> None:
    labels = {"app.kubernetes.io/name": "karpenter"}
    pod = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "karpenter"}]}}
    manifest: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "karpenter", "namespace": namespace, "labels": labels},
        "spec": {"replicas": available, "selector": {"matchLabels": labels}, "template": pod},
    }
    await cluster.client.create(DEPLOYMENT, manifest, namespace)
    status = {"replicas": available, "availableReplicas": available}
    await cluster.client.patch(DEPLOYMENT, "karpenter", {"status": status}, namespace, subresource="status")


async def _lease(cluster: ModeCluster, namespace: str, renewed: float) -> None:
    spec = {"holderIdentity": "karpenter-7d9f", "leaseDurationSeconds": 15, "renewTime": timestamp(renewed)}
    manifest = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "karpenter-leader-election", "namespace": namespace},
        "spec": spec,
    }
    await cluster.client.create(LEASE, manifest, namespace)


async def test_auto_finds_an_available_karpenter_deployment_in_any_namespace(tmp_path: Path) -> None:
    clock = ManualClock(wall_start=time.time())
    async with mode_cluster(tmp_path, ComputeMode.INFLEET) as cluster:
        assert await detect_karpenter(cluster.client, clock) is None
        assert await resolve_mode(cluster.client, "auto", clock) is ComputeMode.INFLEET
        await _namespace(cluster, "karpenter")
        await _deployment(cluster, "karpenter", available=0)  # scaled to zero: runs nothing
        assert await resolve_mode(cluster.client, "auto", clock) is ComputeMode.INFLEET
        await _namespace(cluster, "platform")
        await _deployment(cluster, "platform", available=2)
        evidence = await detect_karpenter(cluster.client, clock)
        assert evidence == "Deployment platform/karpenter is available"
        assert await resolve_mode(cluster.client, "auto", clock) is ComputeMode.KARPENTER
        # An explicit mode wins, even beside a running Karpenter (it only warns).
        assert await resolve_mode(cluster.client, "infleet", clock) is ComputeMode.INFLEET


async def test_auto_finds_a_fresh_leader_lease_but_not_a_stale_one(tmp_path: Path) -> None:
    clock = ManualClock(wall_start=time.time())
    async with mode_cluster(tmp_path, ComputeMode.INFLEET) as cluster:
        await _lease(cluster, "kube-system", renewed=clock.wall() - 5)
        evidence = await detect_karpenter(cluster.client, clock)
        assert evidence is not None
        assert "kube-system/karpenter-leader-election" in evidence
        assert await resolve_mode(cluster.client, ComputeMode.AUTO, clock) is ComputeMode.KARPENTER
        await clock.advance(600)  # nobody renews it: Karpenter was uninstalled
        assert await resolve_mode(cluster.client, ComputeMode.AUTO, clock) is ComputeMode.INFLEET


def test_auto_must_be_resolved_before_wiring() -> None:
    manager = Manager(ManagerSettings(handle_signals=False))
    with pytest.raises(ValueError, match="resolve_mode"):
        add_compute_controllers(manager, None, FakeProvider([]), mode=ComputeMode.AUTO)  # type: ignore[arg-type]
