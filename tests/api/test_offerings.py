"""Offerings from GPU node labels: product strings map to catalog SKUs, nodes group by shape."""

from __future__ import annotations

from typing import Any

import pytest

from infleet.api.catalog import load_catalog
from infleet.api.offerings import cluster_offerings, gpu_for_product, provisionable_offerings


@pytest.mark.parametrize(
    ("product", "memory_mib", "sku"),
    [
        ("NVIDIA-H100-80GB-HBM3", None, "H100"),
        ("NVIDIA-H100-NVL", 95830, "H100-NVL"),
        ("NVIDIA-A100-SXM4-80GB", None, "A100-80GB"),
        ("NVIDIA-A100-SXM4-40GB", None, "A100-40GB"),
        ("NVIDIA-A100-PCIE", 40960, "A100-40GB"),
        ("NVIDIA-A10G", None, "A10G"),
        ("NVIDIA-A10", None, "A10"),
        ("NVIDIA-L40S", None, "L40S"),
        ("NVIDIA-L4", None, "L4"),
        ("Tesla-T4", None, "T4"),
        ("H200", None, "H200"),
    ],
)
def test_gpu_product_labels_map_to_catalog_skus(product: str, memory_mib: int | None, sku: str) -> None:
    gpu = gpu_for_product(load_catalog(), product, memory_mib)
    assert gpu is not None
    assert gpu.name == sku


def node(name: str, product: str, count: int, instance: str, unschedulable: bool = False) -> dict[str, Any]:
    labels = {
        "infleet.io/price-per-hour": str(4.0 * count),
        "nvidia.com/gpu.product": product,
        "nvidia.com/gpu.count": str(count),
        "node.kubernetes.io/instance-type": instance,
    }
    return {"metadata": {"name": name, "labels": labels}, "spec": {"unschedulable": unschedulable}}


def test_cluster_offerings_group_nodes_by_product_count_and_instance_type() -> None:
    nodes = [
        node("a", "NVIDIA-L40S", 2, "g6e.12xlarge"),
        node("b", "NVIDIA-L40S", 2, "g6e.12xlarge"),
        node("c", "NVIDIA-H100-80GB-HBM3", 8, "p5.48xlarge"),
        node("d", "NVIDIA-H100-80GB-HBM3", 8, "p5.48xlarge", unschedulable=True),
        {"metadata": {"name": "cpu", "labels": {}}},
    ]
    found = {(o.gpu.name, o.gpus_per_node): o for o in cluster_offerings(load_catalog(), nodes)}
    assert set(found) == {("L40S", 2), ("H100", 8)}
    assert found["L40S", 2].nodes == 2
    assert found["H100", 8].nodes == 1
    assert found["L40S", 2].node_selector == {"nvidia.com/gpu.product": "NVIDIA-L40S"}
    assert found["L40S", 2].instance_type == "g6e.12xlarge"
    assert found["L40S", 2].gpu_price == 4.0  # the node's price label, per GPU, over the catalog's 1.86


def test_provisionable_offerings_are_the_shapes_clouds_sell() -> None:
    offers = provisionable_offerings(load_catalog())
    shapes = {(o.gpu.name, o.gpus_per_node): o.instance_type for o in offers}
    assert shapes["H100", 8] == "p5.48xlarge"
    assert ("H100", 4) not in shapes  # H100 comes in 8-GPU nodes
    assert shapes["A100-80GB", 2] == "Standard_NC48ads_A100_v4"
    assert "MI300X" not in {o.gpu.name for o in offers}
    assert all(o.node_selector == {"aitoolchain.io/gpu-sku": o.gpu.name} for o in offers)
