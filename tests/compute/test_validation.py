"""Validation of consolidation commands (Karpenter's 15 s consolidationValidationPeriod) on the manual
clock: a command is held, carried out on the first pass after the period if still valid, and dropped when
a pod lands on one of its nodes meanwhile."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from infleet.api.kubernetes import EVENT
from infleet.compute.disruption_settings import DisruptionSettings
from tests.compute.conftest import ComputeCluster, compute_cluster
from tests.compute.fleet_objects import create_node, create_pod, create_pool
from tests.compute.test_disruption import live_claims

SETTINGS = DisruptionSettings(poll_interval_seconds=1e9, drain_retry_seconds=1.0)


@pytest.fixture
async def validating(tmp_path: Path) -> AsyncIterator[ComputeCluster]:
    assert SETTINGS.consolidation_validation_seconds == 15.0  # Karpenter's period, on the manual clock
    async with compute_cluster(tmp_path, SETTINGS) as running:
        yield running


async def _b_can_move_onto_a(cluster: ComputeCluster) -> None:
    await create_pool(cluster.client, budgets=[{"nodes": "100%"}])
    await create_node(cluster.client, "a", 8, 80.0)
    await create_node(cluster.client, "b", 8, 80.0)
    for i in range(6):
        await create_pod(cluster.client, f"a{i}", "a")
    await create_pod(cluster.client, "b0", "b", gpus=2)
    await cluster.settle(2, 7)


async def test_command_is_held_for_the_period_then_carried_out(validating: ComputeCluster) -> None:
    cluster = validating
    await _b_can_move_onto_a(cluster)
    loop = cluster.controllers.loop
    assert await loop.run_pass() is None
    assert loop.validating is not None
    assert [s.name for s in loop.validating.command.delete] == ["b"]
    await cluster.clock.advance(10)
    assert await loop.run_pass() is None  # not yet: 10 s of 15
    assert live_claims(cluster) == {"a", "b"}
    await cluster.clock.advance(5)
    command = await loop.run_pass()
    assert command is not None
    assert command.method == "SingleNodeConsolidation"
    assert [s.name for s in command.delete] == ["b"]
    assert loop.validating is None
    await cluster.cached(lambda: live_claims(cluster) == {"a"})


async def test_command_is_dropped_when_a_pod_lands_on_a_candidate(validating: ComputeCluster) -> None:
    cluster = validating
    await _b_can_move_onto_a(cluster)
    loop = cluster.controllers.loop
    assert await loop.run_pass() is None
    assert loop.validating is not None
    # During the validation period a pod lands on b: b's pods no longer fit on a.
    await create_pod(cluster.client, "late", "b", gpus=6)
    await cluster.settle(2, 8)
    await cluster.clock.advance(15)
    assert await loop.run_pass() is None
    assert loop.validating is None
    assert live_claims(cluster) == {"a", "b"}
    node = cluster.store("nodes").get("b")
    assert not node["spec"].get("taints")
    events = [
        e for e in (await cluster.client.list(EVENT)).items if e.get("reason") == "DisruptionInvalidated"
    ]
    assert events
    assert "pods arrived on or left b" in events[0]["message"]


async def test_emptiness_keeps_the_nodes_still_empty(validating: ComputeCluster) -> None:
    cluster = validating
    await create_pool(cluster.client, budgets=[{"nodes": "100%"}])
    for name in ("e1", "e2"):
        await create_node(cluster.client, name, 8, 80.0)
    await cluster.settle(2)
    loop = cluster.controllers.loop
    assert await loop.run_pass() is None
    assert loop.validating is not None
    assert sorted(s.name for s in loop.validating.command.delete) == ["e1", "e2"]
    await create_pod(cluster.client, "arrived", "e1")
    await cluster.settle(2, 1)
    await cluster.clock.advance(15)
    command = await loop.run_pass()
    assert command is not None
    assert command.method == "Emptiness"
    assert [s.name for s in command.delete] == ["e2"]
