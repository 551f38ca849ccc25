"""The compute layer of each ``infleet up`` member: a FlexNodeClass over the simulated clouds near it and
a GPU NodePool over that class (``up_node_classes.yaml``), written as an administrator would, and the
compute controllers (provisioning, lifecycle, termination, disruption) over a simulated cloud provider
whose Nodes the member's simulated kubelet adopts.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any

import yaml

from infleet.api.catalog import load_catalog
from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FLEX_NODE_CLASS
from infleet.api.karpenter_sh.v1.node_pool import NODE_POOL
from infleet.api.labels import GPU_RESOURCE
from infleet.compute.cloudprovider.simulated import SimulatedCloudProvider
from infleet.compute.disruption_manager import add_disruption_controllers
from infleet.compute.disruption_settings import DisruptionSettings
from infleet.compute.manager import ComputeSettings, add_compute_controllers
from infleet.compute.mode import ComputeMode
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.manager import Manager

NODE_CLASS_NAME = "flex"
NODE_POOL_NAME = "gpu"
#: Karpenter's idle window before an empty node goes, scaled like every simulated delay.
CONSOLIDATE_AFTER_SECONDS = 600


@cache
def _members() -> dict[str, Any]:
    text = resources.files("infleet.cli").joinpath("up_node_classes.yaml").read_text(encoding="utf-8")
    members: dict[str, Any] = yaml.safe_load(text)["members"]
    return members


def node_class(member: str) -> dict[str, Any]:
    spec = _members().get(member) or _members()["us-east"]
    return {
        "apiVersion": FLEX_NODE_CLASS.api_version,
        "kind": FLEX_NODE_CLASS.kind,
        "metadata": {"name": NODE_CLASS_NAME},
        "spec": {"clouds": spec["clouds"], "join": {"method": "BootstrapToken"}},
    }


def node_pool(member: str, time_scale: float) -> dict[str, Any]:
    spec = _members().get(member) or _members()["us-east"]
    consolidate_after = max(1, round(CONSOLIDATE_AFTER_SECONDS * time_scale))
    return {
        "apiVersion": NODE_POOL.api_version,
        "kind": NODE_POOL.kind,
        "metadata": {"name": NODE_POOL_NAME},
        "spec": {
            "template": {
                "spec": {
                    "nodeClassRef": {
                        "group": FLEX_NODE_CLASS.group,
                        "kind": FLEX_NODE_CLASS.kind,
                        "name": NODE_CLASS_NAME,
                    },
                    # GPUs are not schedulable until the device plugin registers them (Karpenter's lesson).
                    "startupTaints": [{"key": GPU_RESOURCE, "value": "initializing", "effect": "NoSchedule"}],
                }
            },
            "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": f"{consolidate_after}s"},
            "limits": {GPU_RESOURCE: spec["gpu_limit"]},
        },
    }


async def ensure_compute_objects(client: ClusterClient, member: str, time_scale: float) -> None:
    """Create the member's FlexNodeClass and NodePool unless they exist (a resumed ``infleet up``)."""
    for kind, obj in ((FLEX_NODE_CLASS, node_class(member)), (NODE_POOL, node_pool(member, time_scale))):
        try:
            await client.create(kind, obj)
        except KubeAPIError as error:
            if not error.conflict:
                raise


def add_member_compute(
    manager: Manager, client: ClusterClient, time_scale: float, mode: ComputeMode = ComputeMode.INFLEET
) -> SimulatedCloudProvider:
    """Provisioning, lifecycle, termination and disruption over one simulated provider per member; in
    karpenter mode only the status controllers (the embedded members run no Karpenter, so ``infleet up``
    keeps the default)."""
    provider = SimulatedCloudProvider(client, load_catalog(), time_scale=time_scale)
    scale = max(time_scale, 0.01)
    add_compute_controllers(manager, client, provider, ComputeSettings().scaled(scale), mode=mode)
    if mode is not ComputeMode.INFLEET:
        return provider  # Karpenter terminates and disrupts its own NodeClaims
    defaults = DisruptionSettings()
    disruption = replace(
        defaults,
        poll_interval_seconds=max(1.0, defaults.poll_interval_seconds * scale * 10),
        replacement_timeout_seconds=defaults.replacement_timeout_seconds * scale,
        consolidation_validation_seconds=defaults.consolidation_validation_seconds * scale,
    )
    add_disruption_controllers(manager, client, provider, disruption)
    return provider
