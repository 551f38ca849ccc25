"""An embedded API server with every CRD, a Manager on a manual clock running the disruption side with a
fake cloud provider, and waits on the controllers' caches."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infleet.compute.disruption_manager import DisruptionControllers, add_disruption_controllers
from infleet.compute.disruption_settings import DisruptionSettings
from infleet.kube.clock import ManualClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.manager import Manager, ManagerSettings
from tests.compute.fake_provider import FakeProvider, shape
from tests.compute.served_cluster import served_cluster


@dataclass
class ComputeCluster:
    client: ClusterClient
    clock: ManualClock
    provider: FakeProvider
    controllers: DisruptionControllers

    async def cached(self, check: Callable[[], Any], within: float = 5.0) -> Any:
        """Wait until ``check`` (over the controllers' caches) returns something truthy."""
        async with asyncio.timeout(within):
            while not (value := check()):  # noqa: ASYNC110 (polls caches the controllers own)
                await asyncio.sleep(0.01)
        return value

    async def advance_until(
        self, check: Callable[[], Any], step: float = 1.0, at_most: float = 300.0
    ) -> float:
        """Move the manual clock ``step`` at a time, letting the controllers act, until ``check`` holds;
        the simulated seconds it took."""
        elapsed = 0.0
        while not check():
            assert elapsed < at_most, "the controllers did not get there in time"
            await self.clock.advance(step)
            elapsed += step
            await asyncio.sleep(0.02)
        return elapsed

    def store(self, which: str) -> Any:
        return getattr(self.controllers.loop.informers, which).store

    async def settle(self, claims: int, pods: int | None = None) -> None:
        """Wait until the caches hold ``claims`` NodeClaims (and ``pods`` pods)."""
        await self.cached(lambda: len(self.store("claims")) == claims)
        if pods is not None:
            await self.cached(lambda: len(self.store("pods")) == pods)


@contextlib.asynccontextmanager
async def compute_cluster(tmp_path: Path, settings: DisruptionSettings) -> AsyncIterator[ComputeCluster]:
    async with served_cluster(tmp_path, "hub") as client:
        clock = ManualClock(wall_start=time.time())
        provider = FakeProvider(
            [shape("gpu-8x", 8, 80.0), shape("gpu-4x", 4, 40.0), shape("gpu-1x", 1, 10.0)]
        )
        manager = Manager(ManagerSettings(handle_signals=False), clock=clock)
        controllers = add_disruption_controllers(manager, client, provider, settings, clock)
        task = asyncio.ensure_future(manager.run())
        try:
            for informer in controllers.loop.informers.all():
                await asyncio.wait_for(informer.wait_synced(), 5)
            yield ComputeCluster(client, clock, provider, controllers)
        finally:
            manager.stop()
            await asyncio.wait_for(task, 15)


#: The loop's own period is out of reach, so each test runs passes itself.
#: Commands are carried out in the pass that computes them; tests/compute/test_validation.py uses the
#: validation period.
TEST_SETTINGS = DisruptionSettings(
    poll_interval_seconds=1e9, drain_retry_seconds=1.0, consolidation_validation_seconds=0.0
)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[ComputeCluster]:
    async with compute_cluster(tmp_path, TEST_SETTINGS) as running:
        yield running
