"""A hub and one member cluster ``m1`` on an embedded API server, with every Infleet CRD installed on both,
and the member agent of ``m1`` running on a Manager with short periods so tests take seconds."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import member_namespace
from infleet.api.crds import all_crds
from infleet.api.kubernetes import CUSTOM_RESOURCE_DEFINITION, NAMESPACE
from infleet.api.placement_kubernetes_fleet_io.v1beta1.work import APPLIED_WORK, WORK
from infleet.apiserver.server import APIServerSettings, EmbeddedAPIServer
from infleet.fleet.member.agent import MemberAgent, MemberAgentSettings, add_member_agent
from infleet.fleet.member.heartbeat import HeartbeatSettings
from infleet.fleet.member.work_applier import ApplierSettings
from infleet.kube.api_error import KubeAPIError
from infleet.kube.backoff import ExponentialBackoff
from infleet.kube.cluster_client import ClientFactory, ClusterClient
from infleet.kube.manager import Manager, ManagerSettings

T = TypeVar("T")
MEMBER = "m1"
NS = member_namespace(MEMBER)


@dataclass
class Fleet:
    server: EmbeddedAPIServer
    hub: ClusterClient
    member: ClusterClient
    agent: MemberAgent


async def until(check: Callable[[], Awaitable[T | None]], within: float = 8.0, what: str = "") -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``within`` seconds."""
    last: Any = None
    try:
        async with asyncio.timeout(within):
            while True:
                try:
                    last = await check()
                except (KubeAPIError, KeyError, IndexError, TypeError) as error:
                    last = error
                else:
                    if last:
                        return last
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what or check}; last: {last!r}") from None


async def install_crds(client: ClusterClient) -> None:
    for crd in all_crds():
        await client.create(CUSTOM_RESOURCE_DEFINITION, crd)


def agent_settings() -> MemberAgentSettings:
    return MemberAgentSettings(
        heartbeat=HeartbeatSettings(min_interval=0.2, retry=ExponentialBackoff(0.05, 0.3)),
        applier=ApplierSettings(
            resync_seconds=5.0, not_available_requeue=0.3, failure_backoff=ExponentialBackoff(0.1, 0.5)
        ),
    )


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[Fleet]:
    kubeconfig = tmp_path / "kubeconfig"
    settings = APIServerSettings(
        port=0,
        data_dir=tmp_path / "data",
        clusters=("hub", MEMBER),
        kubeconfig_out=kubeconfig,
        tls=False,
        bookmark_interval=0.5,
    )
    server = EmbeddedAPIServer(settings)
    await server.start()
    factory = ClientFactory(kubeconfig)
    hub, member = factory.client("infleet-hub", "hub"), factory.client(f"infleet-{MEMBER}", MEMBER)
    await install_crds(hub)
    await install_crds(member)
    await until(lambda: hub.list(WORK, NS), what="the Work CRD on the hub")
    await until(lambda: member.list(APPLIED_WORK), what="the AppliedWork CRD on the member")
    await hub.create(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    manager = Manager(ManagerSettings(handle_signals=False))
    agent = add_member_agent(manager, hub, member, MEMBER, agent_settings(), rng=random.Random(7))
    task = asyncio.ensure_future(manager.run())
    try:
        yield Fleet(server, hub, member, agent)
    finally:
        manager.stop()
        await asyncio.wait_for(task, 20)
        await factory.close()
        await server.stop()
