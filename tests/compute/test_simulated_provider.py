"""The simulated cloud provider: prices from the catalog and clouds.yaml, the cheapest offering wins,
stockouts and quotas fall back to the next cloud or region, spot before on-demand, interruptions."""

from __future__ import annotations

from typing import Any

import pytest

from infleet.api.catalog import load_catalog
from infleet.api.clouds import load_clouds, node_price
from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FlexNodeClassSpec
from infleet.compute.cloudprovider.provider import CloudError, LaunchRequest
from infleet.compute.cloudprovider.simulated import SimulatedCloudProvider
from infleet.kube.clock import ManualClock

L4_TYPES = ("onprem-1xl4", "g6.2xlarge", "g2-standard-8")


def node_class(**clouds: dict[str, Any]) -> FlexNodeClassSpec:
    return FlexNodeClassSpec.model_validate({"clouds": [{"name": n, **c} for n, c in clouds.items()]})


def provider() -> SimulatedCloudProvider:
    return SimulatedCloudProvider(None, load_catalog(), ManualClock(), time_scale=0.0)


def request(spec: FlexNodeClassSpec, name: str = "gpu-a", **extra: Any) -> LaunchRequest:
    return LaunchRequest(name, spec, extra.pop("types", L4_TYPES), **extra)


def test_prices_follow_the_catalog_cloud_and_region_factors_and_spot_is_cheaper() -> None:
    cloud = provider()
    shapes = {t.name: t for t in cloud.instance_types(node_class(aws={"regions": ["eu-west-1"]}))}
    p5 = shapes["p5.48xlarge"]
    base = node_price(load_catalog(), load_catalog().instance_type("p5.48xlarge"))
    on_demand = {o.price_per_hour for o in p5.offerings if o.capacity_type == "on-demand"}
    spot = {o.price_per_hour for o in p5.offerings if o.capacity_type == "spot"}
    assert on_demand == {round(base * 1.08, 4)}
    assert spot == {round(base * 1.08 * load_clouds()["aws"].spot_factor, 4)}  # type: ignore[operator]
    assert {o.region for o in p5.offerings} == {"eu-west-1"}
    assert p5.gpus == 8
    assert p5.cpu == 72


async def test_cheapest_offering_wins_and_spot_comes_before_on_demand() -> None:
    cloud = provider()
    spec = node_class(aws={}, gcp={})
    instance = await cloud.create(request(spec, capacity_types=("spot", "on-demand")))
    assert instance.offering.capacity_type == "spot"
    assert instance.offering.cloud == "gcp" or instance.offering.price_per_hour <= min(
        o.price_per_hour for t in cloud.instance_types(spec) if t.name in L4_TYPES for o in t.offerings
    )
    cloud.faults.stock_out(capacity_type="spot")
    fallback = await cloud.create(request(spec, "gpu-b", capacity_types=("spot", "on-demand")))
    assert fallback.offering.capacity_type == "on-demand"


async def test_stockouts_and_quotas_fall_back_to_the_next_cloud_then_fail_as_insufficient_capacity() -> None:
    cloud = provider()
    spec = node_class(onprem={"quota": {"nvidia.com/gpu": 1}}, aws={}, gcp={})
    first = await cloud.create(request(spec, "a"))
    assert first.offering.cloud == "onprem"  # cheapest
    second = await cloud.create(request(spec, "b"))
    assert second.offering.cloud != "onprem"  # quota of 1 GPU used up
    cloud.faults.stock_out(cloud=second.offering.cloud)
    third = await cloud.create(request(spec, "c"))
    assert third.offering.cloud not in ("onprem", second.offering.cloud)
    cloud.faults.stock_out()
    with pytest.raises(CloudError) as refused:
        await cloud.create(request(spec, "d"))
    assert refused.value.insufficient_capacity
    assert "quota" in str(refused.value) or "stockout" in str(refused.value)


async def test_stockout_in_one_region_moves_to_the_next_region() -> None:
    cloud = provider()
    spec = node_class(aws={"regions": ["us-east-1", "eu-west-1"]})
    cloud.faults.stock_out("aws", "us-east-1")
    instance = await cloud.create(request(spec, types=("g6.2xlarge",)))
    assert instance.offering.region == "eu-west-1"


async def test_launch_failures_are_not_capacity_errors_and_create_is_idempotent() -> None:
    cloud = provider()
    spec = node_class(aws={})
    cloud.faults.fail_launches(1)
    with pytest.raises(CloudError) as failed:
        await cloud.create(request(spec, types=("g6.2xlarge",)))
    assert not failed.value.insufficient_capacity
    once = await cloud.create(request(spec, types=("g6.2xlarge",)))
    again = await cloud.create(request(spec, types=("g6.2xlarge",)))
    assert once == again
    assert cloud.launches == 1


async def test_interruptions_are_announced_until_the_instance_is_deleted() -> None:
    cloud = provider()
    instance = await cloud.create(
        request(node_class(aws={}), types=("g6.2xlarge",), capacity_types=("spot",))
    )
    notice = cloud.interrupt(instance.provider_id, 120)
    assert await cloud.interruptions() == [notice]
    await cloud.delete(instance.provider_id)
    assert await cloud.interruptions() == []
    assert await cloud.list() == []
