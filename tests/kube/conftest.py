"""An embedded API server per test (in-process, plain HTTP, SQLite in a temporary directory)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from infleet.apiserver.server import APIServerSettings, EmbeddedAPIServer
from infleet.kube.cluster_client import ClientFactory, ClusterClient


@dataclass
class RunningServer:
    server: EmbeddedAPIServer
    kubeconfig: Path
    data_dir: Path
    factory: ClientFactory

    def client(self, cluster: str = "hub") -> ClusterClient:
        return self.factory.client(f"infleet-{cluster}", cluster)

    async def restart(self, between: Callable[[], Awaitable[None]] | None = None) -> None:
        """Stop, optionally run ``between`` while down, start again on the same port and data."""
        port = self.server.port
        await self.server.stop()
        if between is not None:
            await between()
        self.server = EmbeddedAPIServer(settings(self.data_dir, self.kubeconfig, port))
        await self.server.start()


def settings(data_dir: Path, kubeconfig: Path, port: int = 0) -> APIServerSettings:
    return APIServerSettings(
        port=port,
        data_dir=data_dir,
        clusters=("hub", "member1"),
        kubeconfig_out=kubeconfig,
        tls=False,
        bookmark_interval=0.5,
    )


@pytest.fixture
async def apiserver(tmp_path: Path) -> AsyncIterator[RunningServer]:
    kubeconfig = tmp_path / "kubeconfig"
    server = EmbeddedAPIServer(settings(tmp_path / "data", kubeconfig))
    await server.start()
    running = RunningServer(server, kubeconfig, tmp_path / "data", ClientFactory(kubeconfig))
    yield running
    await running.factory.close()
    await running.server.stop()


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0, message: str = "") -> None:
    """Wait (bounded) until ``predicate`` holds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)
    assert predicate(), message
