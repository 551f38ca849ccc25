"""An embedded hub (API server with every CRD) running the membership controllers, and helpers that
write what a member agent or the work generator would."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import MEMBER_CLUSTER
from infleet.api.crds import all_crds
from infleet.api.kubernetes import CUSTOM_RESOURCE_DEFINITION
from infleet.api.resource_kind import ResourceKind
from infleet.apiserver.server import APIServerSettings, EmbeddedAPIServer
from infleet.fleet.hub.hub_manager import add_hub_controllers
from infleet.fleet.hub.hub_settings import HubSettings
from infleet.fleet.hub.membership_controllers import MembershipControllers, add_membership_controllers
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClientFactory, ClusterClient
from infleet.kube.manager import Manager, ManagerSettings

#: Short enough for tests to watch a heartbeat go stale: 1.5 heartbeat periods of 1 s.
TEST_SETTINGS = HubSettings(
    heartbeat_timeout_periods=1.5, min_heartbeat_timeout_seconds=0.5, leave_timeout_seconds=1.0
)


@dataclass
class Hub:
    client: ClusterClient
    controllers: MembershipControllers
    #: The controllers' own settings: a test may change them before it acts.
    settings: HubSettings

    async def get(self, kind: ResourceKind, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        try:
            return await self.client.get(kind, name, namespace)
        except KubeAPIError as error:
            if error.not_found:
                return None
            raise


def rfc3339_now() -> str:
    """Now with microseconds, as a precise agent might write lastReceivedHeartbeat."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def until(check: Callable[[], Awaitable[Any]], within: float = 5.0, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy; that value."""
    async with asyncio.timeout(within):
        while True:
            value = await check()
            if value:
                return value
            await asyncio.sleep(0.05)
    raise AssertionError(what)  # pragma: no cover (the timeout raises first)


async def _install_crds(client: ClusterClient) -> None:
    for crd in all_crds():
        await client.create(CUSTOM_RESOURCE_DEFINITION, crd)
    async with asyncio.timeout(5):
        while True:
            try:
                await client.list(MEMBER_CLUSTER)
                return
            except KubeAPIError:
                await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_hub(
    tmp_path: Path, add: Callable[[Manager, ClusterClient], Any]
) -> AsyncIterator[ClusterClient]:
    """An embedded hub with every CRD and a Manager running what ``add`` puts on it."""
    kubeconfig = tmp_path / "kubeconfig"
    server = EmbeddedAPIServer(
        APIServerSettings(
            port=0, data_dir=tmp_path / "data", clusters=("hub",), kubeconfig_out=kubeconfig, tls=False
        )
    )
    await server.start()
    factory = ClientFactory(kubeconfig)
    client = factory.client("infleet-hub", "hub")
    await _install_crds(client)
    manager = Manager(ManagerSettings(handle_signals=False))
    add(manager, client)
    task = asyncio.ensure_future(manager.run())
    try:
        yield client
    finally:
        manager.stop()
        await asyncio.wait_for(task, 15)
        await factory.close()
        await server.stop()


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    settings = dataclasses.replace(TEST_SETTINGS)
    built: list[MembershipControllers] = []

    def add(manager: Manager, client: ClusterClient) -> None:
        built.append(add_membership_controllers(manager, client, settings))

    async with running_hub(tmp_path, add) as client:
        yield Hub(client, built[0], settings)


@dataclass
class FleetHub:
    """A hub running every hub controller (membership, status mirror and the placement pipeline)."""

    client: ClusterClient

    async def get(self, kind: ResourceKind, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        try:
            return await self.client.get(kind, name, namespace)
        except KubeAPIError as error:
            if error.not_found:
                return None
            raise


@pytest.fixture
async def fleet_hub(tmp_path: Path) -> AsyncIterator[FleetHub]:
    settings = dataclasses.replace(TEST_SETTINGS, failover_after_seconds=2.0)
    async with running_hub(
        tmp_path, lambda manager, client: add_hub_controllers(manager, client, settings)
    ) as client:
        yield FleetHub(client)
