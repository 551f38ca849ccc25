"""GPUs, CPU and memory as one value: what a node offers (allocatable, an instance type's capacity) and
what pods ask (summed container requests), with the arithmetic packing needs. Disruption's simulation
and replacement search use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infleet.api.labels import GPU_RESOURCE
from infleet.api.quantity import parse_quantity

_GIB = float(2**30)


@dataclass(frozen=True)
class Resources:
    gpus: float = 0.0
    cpu: float = 0.0
    memory_gib: float = 0.0

    @classmethod
    def from_list(cls, values: dict[str, Any] | None) -> Resources:
        """From a ResourceList (``{"nvidia.com/gpu": "8", "cpu": "96", "memory": "1Ti"}``)."""
        values = values or {}

        def read(name: str) -> float:
            return float(parse_quantity(values[name])) if name in values else 0.0

        return cls(read(GPU_RESOURCE), read("cpu"), read("memory") / _GIB)

    @classmethod
    def of_pod(cls, pod: dict[str, Any]) -> Resources:
        """The sum of the pod's container requests."""
        total = cls()
        for container in (pod.get("spec") or {}).get("containers") or []:
            total = total + cls.from_list((container.get("resources") or {}).get("requests"))
        return total

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.gpus + other.gpus, self.cpu + other.cpu, self.memory_gib + other.memory_gib)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.gpus - other.gpus, self.cpu - other.cpu, self.memory_gib - other.memory_gib)

    def fits_in(self, room: Resources) -> bool:
        # A tolerance keeps float sums of millicores from refusing an exact fit.
        epsilon = 1e-9
        return (
            self.gpus <= room.gpus + epsilon
            and self.cpu <= room.cpu + epsilon
            and self.memory_gib <= room.memory_gib + epsilon
        )

    def sort_key(self) -> tuple[float, float, float]:
        """Largest first for first-fit decreasing: GPUs dominate, then CPU, then memory."""
        return (self.gpus, self.cpu, self.memory_gib)
