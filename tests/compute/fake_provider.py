"""A CloudProvider for tests and the consolidation benchmark: a fixed list of instance types, instances
recorded as they are created and deleted, and interruption notices a test posts."""

from __future__ import annotations

from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FlexNodeClassSpec
from infleet.compute.cloudprovider.provider import (
    Instance,
    InstanceType,
    Interruption,
    LaunchRequest,
    NotFoundError,
    Offering,
)


def shape(
    name: str, gpus: int, price: float, sku: str = "H100", capacity_type: str = "on-demand"
) -> InstanceType:
    offering = Offering(
        "fake", "us-east", "us-east-a", "spot" if capacity_type == "spot" else "on-demand", price
    )
    return InstanceType(name, sku, gpus, cpu=gpus * 8, memory_gib=gpus * 64, offerings=(offering,))


class FakeProvider:
    name = "fake"

    def __init__(self, types: list[InstanceType]) -> None:
        self.types = types
        self.instances: dict[str, Instance] = {}
        self.deleted: list[str] = []
        self.notices: list[Interruption] = []

    def instance_types(self, node_class: FlexNodeClassSpec) -> list[InstanceType]:
        return list(self.types)

    async def create(self, request: LaunchRequest) -> Instance:
        chosen = next(t for t in self.types if t.name in request.instance_types)
        instance = Instance(
            f"fake://{request.nodeclaim}", chosen.name, chosen.offerings[0], request.nodeclaim
        )
        self.instances[instance.provider_id] = instance
        return instance

    async def delete(self, provider_id: str) -> None:
        self.deleted.append(provider_id)
        if self.instances.pop(provider_id, None) is None:
            raise NotFoundError(f"instance {provider_id} not found")

    async def get(self, provider_id: str) -> Instance:
        if provider_id not in self.instances:
            raise NotFoundError(provider_id)
        return self.instances[provider_id]

    async def list(self) -> list[Instance]:
        return list(self.instances.values())

    async def interruptions(self) -> list[Interruption]:
        return [n for n in self.notices if n.provider_id not in self.deleted]
