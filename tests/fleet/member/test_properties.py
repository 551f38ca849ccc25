"""Properties and resource usage from nodes and pods: KubeFleet's core numbers, GPUs per SKU, slots,
free nodes, cost, region and cloud, and which pods and nodes count."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from infleet.api import fleet_properties as fp
from infleet.api.catalog import load_catalog
from infleet.api.labels import CLOUD_LABEL, GPU_COUNT_LABEL, GPU_PRODUCT_LABEL, PRICE_LABEL, REGION_LABEL
from infleet.fleet.member.properties import cluster_properties, format_cost

CATALOG = load_catalog()


def node(
    name: str,
    product: str | None = None,
    gpus: int = 0,
    *,
    cpu: str = "32",
    memory: str = "256Gi",
    price: str | None = None,
    region: str = "eastus",
    cloud: str = "azure",
    unschedulable: bool = False,
    ready: str | None = None,
) -> dict[str, Any]:
    labels = {REGION_LABEL: region, CLOUD_LABEL: cloud}
    resources = {"cpu": cpu, "memory": memory}
    if product:
        labels.update({GPU_PRODUCT_LABEL: product, GPU_COUNT_LABEL: str(gpus)})
        resources["nvidia.com/gpu"] = str(gpus)
    if price:
        labels[PRICE_LABEL] = price
    status: dict[str, Any] = {"capacity": resources, "allocatable": dict(resources)}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": ready}]
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"unschedulable": unschedulable},
        "status": status,
    }


def pod(
    node_name: str | None, gpus: int = 0, cpu: str = "1", phase: str = "Running", **extra: Any
) -> dict[str, Any]:
    container = {
        "resources": {"requests": {"cpu": cpu, "memory": "1Gi"}, "limits": {"nvidia.com/gpu": str(gpus)}}
    }
    spec: dict[str, Any] = {"containers": [container], **extra}
    if node_name:
        spec["nodeName"] = node_name
    return {"spec": spec, "status": {"phase": phase}}


def props(nodes: list[dict[str, Any]], pods: list[dict[str, Any]] | None = None) -> dict[str, str]:
    return cluster_properties(nodes, pods or [], CATALOG).properties


def h100(measure: str) -> str:
    return fp.sku_property("H100", measure)


def test_an_empty_cluster_reports_zeros_and_no_gpu_skus() -> None:
    found = props([])
    assert found[fp.NODE_COUNT] == "0"
    assert found[fp.TOTAL_GPUS] == found[fp.AVAILABLE_GPUS] == "0"
    assert fp.MIN_GPU_HOUR_COST not in found
    assert fp.REGION not in found
    assert not any(fp.parse_sku_property(name) for name in found)


def test_core_properties_sum_capacity_allocatable_and_free_cpu_and_memory() -> None:
    nodes = [node("a", cpu="16", memory="64Gi"), node("b", cpu="8", memory="32Gi")]
    found = props(nodes, [pod("a", cpu="1500m"), pod("b", cpu="2")])
    assert found[fp.NODE_COUNT] == "2"
    assert found[fp.TOTAL_CPU] == "24"
    assert found[fp.AVAILABLE_CPU] == "20500m"
    assert found[fp.TOTAL_MEMORY] == "96Gi"
    assert found[fp.AVAILABLE_MEMORY] == "94Gi"


def test_gpu_properties_per_sku_with_slots_largest_block_and_free_nodes() -> None:
    nodes = [
        node("h1", "NVIDIA-H100-80GB-HBM3", 8, price="80"),
        node("h2", "NVIDIA-H100-80GB-HBM3", 8, price="96"),
        node("l1", "NVIDIA-L40S", 4),
    ]
    pods = [pod("h1", gpus=3), pod("l1", gpus=1)]
    found = props(nodes, pods)
    assert found[fp.TOTAL_GPUS] == "20"
    assert found[fp.AVAILABLE_GPUS] == "16"
    assert found[h100(fp.SKU_TOTAL)] == "16"
    assert found[h100(fp.SKU_AVAILABLE)] == "13"
    assert found[h100(fp.SKU_LARGEST_FREE_BLOCK)] == "8"
    assert found[h100(fp.SKU_FREE_NODES)] == "1"
    assert found[h100(fp.SKU_GPUS_PER_NODE)] == "8"
    # slots-g = sum over nodes of free // g: h1 has 5 free, h2 has 8.
    assert [found[h100(f"slots-{g}")] for g in (1, 2, 4, 8)] == ["13", "6", "3", "1"]
    assert found[h100(fp.SKU_GPU_HOUR_COST)] == "10"  # 80 / 8, the cheaper node
    assert found[h100(fp.SKU_PROVISIONABLE)] == "0"
    l40s = fp.sku_property("L40S", fp.SKU_AVAILABLE)
    assert found[l40s] == "3"
    # The L40S has no price label: the catalog's price stands in, and it is the cheapest GPU-hour.
    catalog_price = format_cost(Decimal(str(CATALOG.gpu("L40S").price_per_gpu_hour)))
    assert found[fp.sku_property("L40S", fp.SKU_GPU_HOUR_COST)] == catalog_price
    assert found[fp.MIN_GPU_HOUR_COST] == min(catalog_price, "10", key=float)


def test_terminated_unbound_and_orphaned_pods_hold_nothing() -> None:
    nodes = [node("h1", "NVIDIA-H100-80GB-HBM3", 8)]
    pods = [
        pod("h1", gpus=2, phase="Succeeded"),
        pod("h1", gpus=2, phase="Failed"),
        pod(None, gpus=2, phase="Pending"),
        pod("gone-node", gpus=2),
        pod("h1", gpus=1, phase="Pending"),  # bound, not yet running: it holds its GPU
    ]
    assert props(nodes, pods)[h100(fp.SKU_AVAILABLE)] == "7"


def test_init_containers_count_at_their_peak_and_overhead_adds() -> None:
    init = {"resources": {"requests": {"cpu": "6"}}}
    nodes = [node("a", cpu="16")]
    found = props(nodes, [pod("a", cpu="2", initContainers=[init], overhead={"cpu": "250m"})])
    assert found[fp.AVAILABLE_CPU] == "9750m"  # max(2, 6) + 0.25


def test_cordoned_and_not_ready_nodes_offer_nothing_but_still_count() -> None:
    nodes = [
        node("h1", "NVIDIA-H100-80GB-HBM3", 8, unschedulable=True),
        node("h2", "NVIDIA-H100-80GB-HBM3", 8, ready="False"),
        node("h3", "NVIDIA-H100-80GB-HBM3", 8, ready="True"),
    ]
    found = props(nodes)
    assert found[fp.NODE_COUNT] == "3"
    assert found[h100(fp.SKU_TOTAL)] == "24"
    assert found[h100(fp.SKU_AVAILABLE)] == "8"
    assert found[h100(fp.SKU_FREE_NODES)] == "1"


def test_region_and_cloud_are_the_majority_of_the_nodes() -> None:
    nodes = [node("a", region="westus"), node("b", region="eastus"), node("c", region="eastus", cloud="aws")]
    found = props(nodes)
    assert found[fp.REGION] == "eastus"
    assert found[fp.CLOUD] == "azure"


def test_resource_usage_lists_cpu_memory_and_gpus() -> None:
    result = cluster_properties(
        [node("h1", "NVIDIA-H100-80GB-HBM3", 8, cpu="96")], [pod("h1", gpus=8)], CATALOG
    )
    assert result.capacity == {"cpu": "96", "memory": "256Gi", "nvidia.com/gpu": "8"}
    assert result.available == {"cpu": "95", "memory": "255Gi", "nvidia.com/gpu": "0"}


def test_a_bad_quantity_raises_for_the_heartbeat_to_report() -> None:
    broken = node("a")
    broken["status"]["capacity"]["cpu"] = "lots"
    with pytest.raises(ValueError, match="lots"):
        props([broken])


@pytest.mark.parametrize(
    ("value", "text"),
    [("12.5", "12.5"), ("3", "3"), ("0.0414", "0.041"), ("1.2346", "1.235"), ("10.000", "10")],
)
def test_costs_are_written_with_at_most_three_decimals(value: str, text: str) -> None:
    assert format_cost(Decimal(value)) == text
