"""An embedded API server per test (in-process, plain HTTP, SQLite in a temporary directory)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from infleet.api.resource_kind import ResourceKind
from infleet.apiserver.server import APIServerSettings, EmbeddedAPIServer
from infleet.kube.api_error import KubeAPIError
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


async def eventually(predicate: Callable[[], bool], within: float = 5.0, message: str = "") -> None:
    """Wait (bounded) until ``predicate`` holds."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 (polls state owned by the code under test)
            await asyncio.sleep(0.01)
    assert predicate(), message


WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.test.infleet.io"},
    "spec": {
        "group": "test.infleet.io",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}


async def install_widget_crd(client: ClusterClient) -> ResourceKind:
    """Register the test CRD and return its kind once the server serves it."""
    crd_kind = ResourceKind(
        "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False
    )
    await client.create(crd_kind, WIDGET_CRD)
    widget = ResourceKind("test.infleet.io", "v1", "Widget", "widgets")
    async with asyncio.timeout(5):
        while True:
            try:
                await client.list(widget, "default")
                return widget
            except KubeAPIError:
                await asyncio.sleep(0.05)


def widget(name: str, **spec: object) -> dict[str, object]:
    return {
        "apiVersion": "test.infleet.io/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": "default"},
        "spec": dict(spec),
    }
