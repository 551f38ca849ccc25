"""Packing: first-fit decreasing onto the cheapest fitting type, in-flight claims reused first, pools in
weight order, limits (with the message users see), selectors narrowing types, groups in one region."""

from __future__ import annotations

from infleet.api.catalog import load_catalog
from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FlexNodeClassSpec
from infleet.api.karpenter_sh.v1.node_template import NodeSelectorRequirement
from infleet.compute.cloudprovider.simulated import SimulatedCloudProvider
from infleet.compute.provisioner.candidates import pool_candidates
from infleet.compute.provisioner.packing import InFlight, PoolOption, pack
from infleet.compute.provisioner.pod_shape import PodShape, Resources
from infleet.compute.provisioner.pool_limits import PoolLimits
from infleet.kube.clock import ManualClock

SKU = "aitoolchain.io/gpu-sku"


def pool(
    name: str = "gpu", weight: int = 0, limits: dict[str, int] | None = None, skus: list[str] | None = None
) -> PoolOption:
    spec = FlexNodeClassSpec.model_validate(
        {"clouds": [{"name": "aws"}, {"name": "gcp"}, {"name": "coreweave"}]}
    )
    shapes = SimulatedCloudProvider(None, load_catalog(), ManualClock()).instance_types(spec)
    requirements = [NodeSelectorRequirement(key=SKU, operator="In", values=skus)] if skus else []
    return PoolOption(
        name, weight, pool_candidates(shapes, requirements, {}), [], PoolLimits(name, limits or {})
    )


def pod(name: str, gpus: int, sku: str | None = None, group: str | None = None) -> PodShape:
    selector = ((SKU, (sku,)),) if sku else ()
    return PodShape(f"default/{name}", name, Resources(gpus, 1000, 1024, 1), selector, (), group)


def test_first_fit_decreasing_fills_nodes_and_picks_the_cheapest_fitting_type() -> None:
    pods = [pod(f"p{i}", 1, "L4") for i in range(8)] + [pod("big", 4, "L4")]
    packing = pack(pods, [pool()])
    assert not packing.failed
    assert packing.new[0].pods[0].key == "default/big"  # largest first
    placed = sorted(p.key for claim in packing.new for p in claim.pods)
    assert len(placed) == 9
    assert sum(claim.requests.gpus for claim in packing.new) == 12
    for claim in packing.new:
        assert claim.candidates == sorted(claim.candidates, key=lambda c: (c.price, c.name))
        assert all(claim.requests.fits(c.capacity) for c in claim.candidates)
    assert sum(c.candidates[0].capacity.gpus for c in packing.new) <= 16


def test_in_flight_claims_are_filled_before_new_ones() -> None:
    claim = InFlight("gpu-old", {SKU: "L4"}, [], Resources(3, 60_000, 100_000, 100))
    packing = pack([pod("a", 1, "L4"), pod("b", 1, "L4"), pod("c", 2, "L4")], [pool()], [claim])
    assert [p.key for p in claim.pods] == ["default/c", "default/a"]
    assert [p.key for c in packing.new for p in c.pods] == ["default/b"]


def test_pools_are_tried_in_weight_order_and_requirements_narrow_types() -> None:
    heavy = pool("reserved", weight=50, skus=["L40S"])
    light = pool("general", weight=10)
    packing = pack([pod("l40s", 1), pod("l4", 1, "L4")], [light, heavy])
    by_pod = {p.key: c.pool.name for c in packing.new for p in c.pods}
    assert by_pod == {"default/l40s": "reserved", "default/l4": "general"}


def test_limits_filter_types_and_say_which_limit_is_exhausted() -> None:
    limited = pool(limits={"nvidia.com/gpu": 16})
    limited.limits.used["nvidia.com/gpu"] = 16
    packing = pack([pod("a", 1, "L4")], [limited])
    assert packing.failed["default/a"] == (
        "all available instance types exceed limits for nodepool gpu: nvidia.com/gpu 16/16"
    )
    roomy = pool(limits={"nvidia.com/gpu": 2, "nodes": 2})
    packing = pack([pod(f"p{i}", 1, "L4") for i in range(3)], [roomy])
    assert len(packing.failed) == 1
    assert sum(c.requests.gpus for c in packing.new) == 2


def test_selectors_narrow_to_matching_types_and_unfit_pods_are_explained() -> None:
    packing = pack([pod("h", 8, "H100"), pod("x", 1, "NoSuchGPU")], [pool()])
    assert {c.instance_type.gpu_sku for c in packing.new[0].candidates} == {"H100"}
    assert "no instance type fits the pod" in packing.failed["default/x"]


def test_a_replica_group_lands_in_one_region() -> None:
    pods = [pod(f"w{i}", 8, "H100", group="default/g0") for i in range(3)]
    packing = pack(pods, [pool()])
    regions = {o.region for c in packing.new for cand in c.candidates for o in cand.offerings}
    assert len(packing.new) == 3
    assert len(regions) == 1
    assert {c.region for c in packing.new} == regions
