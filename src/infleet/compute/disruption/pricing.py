"""Prices and shapes for disruption, from the cloud provider's instance types under each pool's node
class: what a node costs now ($/h) and which offerings a pool's requirements allow, cheapest first.
Consolidation compares the two; a node's own ``infleet.io/price-per-hour`` label wins where present.
"""

from __future__ import annotations

from dataclasses import dataclass

from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FlexNodeClassSpec
from infleet.api.karpenter_sh.v1.node_pool import NodePoolSpec
from infleet.api.labels import PRICE_LABEL
from infleet.compute.cloudprovider.provider import CloudProvider, InstanceType, Offering
from infleet.compute.disruption.requirements import allows, offering_labels
from infleet.compute.disruption.state import StateNode
from infleet.compute.resources import Resources
from infleet.kube.store import Store


@dataclass(frozen=True)
class Option:
    """One instance type at one offering: what a replacement node would be, and its price."""

    instance_type: InstanceType
    offering: Offering

    @property
    def price(self) -> float:
        return self.offering.price_per_hour

    @property
    def capacity(self) -> Resources:
        shape = self.instance_type
        return Resources(float(shape.gpus), float(shape.cpu), float(shape.memory_gib))


class PriceBook:
    """Instance types per node class, fetched once per pass from the provider."""

    def __init__(self, provider: CloudProvider, node_classes: Store) -> None:
        self.provider = provider
        self.node_classes = node_classes
        self._types: dict[str, list[InstanceType]] = {}

    def _instance_types(self, pool: NodePoolSpec) -> list[InstanceType]:
        name = pool.template.spec.node_class_ref.name
        if name not in self._types:
            node_class = self.node_classes.get(name)
            if node_class is None:
                return []
            spec = FlexNodeClassSpec.model_validate(node_class.get("spec") or {})
            self._types[name] = self.provider.instance_types(spec)
        return self._types[name]

    def options(self, pool: NodePoolSpec) -> list[Option]:
        """Every available offering the pool's requirements allow, cheapest first."""
        requirements = pool.template.spec.requirements or []
        found = [
            Option(shape, offering)
            for shape in self._instance_types(pool)
            for offering in shape.offerings
            if offering.available and allows(requirements, offering_labels(shape, offering))
        ]
        return sorted(found, key=lambda option: (option.price, option.instance_type.name))

    def price_of(self, state: StateNode, pool: NodePoolSpec | None) -> float | None:
        """The node's $/h: its price label, else its instance type's offering in its zone."""
        label = state.label(PRICE_LABEL)
        if label is not None:
            return float(label)
        if pool is None:
            return None
        for shape in self._instance_types(pool):
            if shape.name != state.instance_type:
                continue
            return _offering_price(shape, state)
        return None


def _offering_price(shape: InstanceType, state: StateNode) -> float | None:
    prices = [
        o.price_per_hour
        for o in shape.offerings
        if o.capacity_type == (state.capacity_type or o.capacity_type) and o.zone == (state.zone or o.zone)
    ]
    return min(prices) if prices else None


def annotate_prices(states: list[StateNode], pools: dict[str, NodePoolSpec], book: PriceBook) -> None:
    for state in states:
        state.price = book.price_of(state, pools.get(state.pool_name))
