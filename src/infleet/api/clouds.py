"""The clouds GPU nodes can come from (``catalog/clouds.yaml``: regions, zones, price factors, spot, boot
delays) and the offerings a ``FlexNodeClass`` may draw on: instance type x cloud x region x zone x
capacity type, with prices. The simulated cloud provider sells these; the member agent counts which GPU
SKUs its NodePools could still get from them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field

from infleet.api.catalog import Catalog, InstanceType
from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FlexNodeClassSpec

ON_DEMAND, SPOT = "on-demand", "spot"


class RegionInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    price_factor: float = Field(default=1.0, gt=0)
    zones: tuple[str, ...] = Field(min_length=1)


class CloudInfo(BaseModel):
    """One cloud: its regions, how its prices compare, whether it sells spot, how long a node boots."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    price_factor: float = Field(default=1.0, gt=0)
    spot_factor: float | None = Field(default=None, gt=0, lt=1, description="None: no spot capacity")
    boot_seconds: float = Field(default=90.0, ge=0)
    regions: dict[str, RegionInfo]


@dataclass(frozen=True)
class CloudOffering:
    """One way to get an instance type: where, on which capacity type, at what price per hour."""

    instance_type: InstanceType
    cloud: str
    region: str
    zone: str
    capacity_type: str
    price_per_hour: float


@functools.cache
def load_clouds() -> dict[str, CloudInfo]:
    text = resources.files("infleet.api.catalog").joinpath("clouds.yaml").read_text(encoding="utf-8")
    clouds = (yaml.safe_load(text) or {}).get("clouds") or {}
    return {name: CloudInfo.model_validate(info) for name, info in clouds.items()}


def node_price(catalog: Catalog, shape: InstanceType) -> float:
    """The catalog's hourly price of one node of ``shape`` before cloud and region factors."""
    if shape.price_per_hour is not None:
        return shape.price_per_hour
    return catalog.gpu(shape.gpu).price_per_gpu_hour * shape.gpus


def _shape_offerings(
    catalog: Catalog, shape: InstanceType, cloud: CloudInfo, regions: list[str], spot: bool
) -> list[CloudOffering]:
    offerings = []
    for region in regions:
        info = cloud.regions[region]
        on_demand = round(node_price(catalog, shape) * cloud.price_factor * info.price_factor, 4)
        prices = [(ON_DEMAND, on_demand)]
        if spot and cloud.spot_factor is not None:
            prices.append((SPOT, round(on_demand * cloud.spot_factor, 4)))
        for zone in info.zones:
            for capacity_type, price in prices:
                offerings.append(CloudOffering(shape, shape.cloud, region, zone, capacity_type, price))
    return offerings


def class_offerings(
    catalog: Catalog, spec: FlexNodeClassSpec, clouds: dict[str, CloudInfo] | None = None
) -> list[CloudOffering]:
    """Every offering the node class's clouds and regions allow (unknown clouds and regions add none)."""
    clouds = clouds if clouds is not None else load_clouds()
    offerings: list[CloudOffering] = []
    for source in spec.clouds:
        cloud = clouds.get(source.name)
        if cloud is None:
            continue
        regions = [r for r in (source.regions or list(cloud.regions)) if r in cloud.regions]
        for shape in catalog.instance_types:
            if shape.cloud == source.name:
                offerings += _shape_offerings(catalog, shape, cloud, regions, source.spot)
    return offerings
