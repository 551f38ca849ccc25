"""Fixtures for the models controller: an embedded API server with the generated CRDs and GPU nodes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml

from infleet.api.kubernetes import CUSTOM_RESOURCE_DEFINITION
from infleet.api.resource_kind import ResourceKind
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from tests.kube.conftest import RunningServer, apiserver, eventually

__all__ = ["RunningServer", "apiserver", "eventually", "gpu_node", "install_crds"]

CRDS = Path(__file__).resolve().parents[2] / "deploy" / "crds"


async def install_crds(client: ClusterClient, served: ResourceKind) -> None:
    for path in sorted(CRDS.glob("*.yaml")):
        await client.create(CUSTOM_RESOURCE_DEFINITION, yaml.safe_load(path.read_text()))
    async with asyncio.timeout(5):
        while True:
            try:
                await client.list(served, "default")
                return
            except KubeAPIError:
                await asyncio.sleep(0.05)


def gpu_node(name: str, product: str, count: int, instance_type: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "nvidia.com/gpu.product": product,
                "nvidia.com/gpu.count": str(count),
                "node.kubernetes.io/instance-type": instance_type,
                "topology.kubernetes.io/region": "us-east-1",
            },
        },
        "status": {"capacity": {"nvidia.com/gpu": str(count)}, "allocatable": {"nvidia.com/gpu": str(count)}},
    }
