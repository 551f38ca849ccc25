"""What a cluster's NodePools could still provision per SKU: the SKUs their node classes' clouds offer
(narrowed by the pool's requirements), within the GPU limit less what the pool holds."""

from __future__ import annotations

from typing import Any

from infleet.api.catalog import load_catalog
from infleet.api.provisionable import UNBOUNDED, provisionable_gpus

CATALOG = load_catalog()
AZURE_ONLY = {
    "metadata": {"name": "azure"},
    "spec": {"clouds": [{"name": "azure", "regions": ["westeurope"]}]},
}


def pool(
    limit: int | None, used: int = 0, requirements: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    template: dict[str, Any] = {
        "nodeClassRef": {"group": "compute.aitoolchain.io", "kind": "FlexNodeClass", "name": "azure"}
    }
    if requirements:
        template["requirements"] = requirements
    spec: dict[str, Any] = {"template": {"spec": template}}
    if limit is not None:
        spec["limits"] = {"nvidia.com/gpu": limit}
    return {"metadata": {"name": "gpu"}, "spec": spec, "status": {"resources": {"nvidia.com/gpu": str(used)}}}


def test_the_limit_less_what_the_pool_holds_for_every_sku_its_clouds_offer() -> None:
    found = provisionable_gpus([pool(16, used=6)], [AZURE_ONLY], CATALOG)
    azure_skus = {shape.gpu for shape in CATALOG.instance_types if shape.cloud == "azure"}
    assert set(found) == azure_skus
    assert set(found.values()) == {10}


def test_requirements_narrow_the_skus_and_a_full_or_unlimited_pool_says_so() -> None:
    narrowed = pool(8, requirements=[{"key": "aitoolchain.io/gpu-sku", "operator": "In", "values": ["A10"]}])
    assert provisionable_gpus([narrowed], [AZURE_ONLY], CATALOG) == {"A10": 8}
    assert provisionable_gpus([pool(4, used=4)], [AZURE_ONLY], CATALOG) == {}
    assert set(provisionable_gpus([pool(None)], [AZURE_ONLY], CATALOG).values()) == {UNBOUNDED}
    assert provisionable_gpus([pool(8)], [], CATALOG) == {}  # its node class is missing


def karpenter_pool(requirements: list[dict[str, Any]], limit: int = 32, used: int = 8) -> dict[str, Any]:
    """A pool of Karpenter's AWS provider, its status written by Karpenter."""
    template = {
        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "azure"},
        "requirements": requirements,
    }
    spec = {"template": {"spec": template}, "limits": {"nvidia.com/gpu": limit}}
    return {"metadata": {"name": "aws"}, "spec": spec, "status": {"resources": {"nvidia.com/gpu": str(used)}}}


def test_karpenter_pools_count_for_the_skus_their_requirements_name() -> None:
    by_type = karpenter_pool(
        [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["p5.48xlarge"]}]
    )
    assert provisionable_gpus([by_type], [AZURE_ONLY], CATALOG) == {"H100": 24}
    by_gpu_name = karpenter_pool(
        [{"key": "karpenter.k8s.aws/instance-gpu-name", "operator": "In", "values": ["l40s", "h200"]}]
    )
    assert provisionable_gpus([by_gpu_name], [], CATALOG) == {"L40S": 24, "H200": 24}
    # Nothing names a GPU: Infleet cannot know what the provider would launch, so it claims nothing,
    # and a FlexNodeClass of the same name does not make it Infleet's pool.
    vague = karpenter_pool([{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}])
    assert provisionable_gpus([vague], [AZURE_ONLY], CATALOG) == {}


def test_static_pools_and_pools_not_ready_provision_nothing() -> None:
    static = pool(16)
    static["spec"]["replicas"] = 2
    assert provisionable_gpus([static], [AZURE_ONLY], CATALOG) == {}
    not_ready = pool(16)
    not_ready["status"]["conditions"] = [{"type": "Ready", "status": "False", "reason": "NotProvisioned"}]
    assert provisionable_gpus([not_ready], [AZURE_ONLY], CATALOG) == {}
    ready = pool(16)
    ready["status"]["conditions"] = [{"type": "Ready", "status": "True", "reason": "Ready"}]
    assert set(provisionable_gpus([ready], [AZURE_ONLY], CATALOG).values()) == {16}
