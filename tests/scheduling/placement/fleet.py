"""Member clusters for the placement tests: GPU properties as a member agent would report them."""

from __future__ import annotations

from infleet.api import fleet_properties as fp
from infleet.api.catalog import load_catalog
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import Taint
from infleet.api.placement_kubernetes_fleet_io.v1beta1.policy import PlacementPolicy
from infleet.api.sizing import SizingRequest
from infleet.scheduling.placement import ClusterCandidate, GpuDemand, PlacementRequest


def gpu_properties(
    sku: str,
    nodes: int,
    per_node: int,
    free_nodes: int,
    price: float,
    partial: int = 0,
    provisionable: int = 0,
) -> dict[str, str]:
    """`free_nodes` wholly free nodes plus one node with `partial` free GPUs."""

    def key(measure: str) -> str:
        return fp.sku_property(sku, measure)

    props = {
        key(fp.SKU_TOTAL): str(nodes * per_node),
        key(fp.SKU_AVAILABLE): str(free_nodes * per_node + partial),
        key(fp.SKU_GPUS_PER_NODE): str(per_node),
        key(fp.SKU_GPU_HOUR_COST): str(price),
        key(fp.SKU_FREE_NODES): str(free_nodes),
        key(fp.SKU_LARGEST_FREE_BLOCK): str(per_node if free_nodes else partial),
        key(fp.SKU_PROVISIONABLE): str(provisionable),
    }
    for size in fp.SLOT_SIZES:
        props[key(f"{fp.SKU_SLOTS_PREFIX}{size}")] = str(free_nodes * (per_node // size) + partial // size)
    return props


def cluster(
    name: str,
    labels: dict[str, str] | None = None,
    properties: dict[str, str] | None = None,
    taints: tuple[Taint, ...] = (),
    **kwargs: object,
) -> ClusterCandidate:
    return ClusterCandidate(name, labels or {}, properties or {}, taints, **kwargs)  # type: ignore[arg-type]


def demand(model: str, replicas: int = 1, name: str = "md", **sizing: object) -> GpuDemand:
    info = load_catalog().model(model)
    return GpuDemand(name, SizingRequest(info, **sizing), replicas)  # type: ignore[arg-type]


def request(policy: dict[str, object] | None = None, **kwargs: object) -> PlacementRequest:
    parsed = PlacementPolicy.model_validate(policy) if policy is not None else None
    return PlacementRequest("crp", parsed, **kwargs)  # type: ignore[arg-type]


LLAMA_70B = "meta-llama/Llama-3.1-70B-Instruct"
LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"
