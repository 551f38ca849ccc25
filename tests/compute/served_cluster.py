"""An embedded API server with every CRD and the tests' FlexNodeClass: what each compute harness starts
from, before it adds its own controllers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from infleet.api.crds import all_crds
from infleet.api.karpenter_sh.v1.node_pool import NODE_POOL
from infleet.api.kubernetes import CUSTOM_RESOURCE_DEFINITION
from infleet.apiserver.server import APIServerSettings, EmbeddedAPIServer
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClientFactory, ClusterClient
from tests.compute.fleet_objects import create_node_class


@contextlib.asynccontextmanager
async def served_cluster(tmp_path: Path, name: str) -> AsyncIterator[ClusterClient]:
    kubeconfig = tmp_path / "kubeconfig"
    server = EmbeddedAPIServer(
        APIServerSettings(
            port=0, data_dir=tmp_path / "data", clusters=(name,), kubeconfig_out=kubeconfig, tls=False
        )
    )
    await server.start()
    factory = ClientFactory(kubeconfig)
    try:
        client = factory.client(f"infleet-{name}", name)
        for crd in all_crds():
            await client.create(CUSTOM_RESOURCE_DEFINITION, crd)
        async with asyncio.timeout(5):
            while True:
                try:
                    await client.list(NODE_POOL)
                    break
                except KubeAPIError:
                    await asyncio.sleep(0.05)
        await create_node_class(client)
        yield client
    finally:
        await factory.close()
        await server.stop()
