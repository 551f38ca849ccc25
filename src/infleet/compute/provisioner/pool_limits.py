"""A NodePool's ``limits`` (nvidia.com/gpu, cpu, memory, nodes) against what its NodeClaims already hold
and what a batch plans to add: instance types that would breach a limit are filtered out before packing,
and the message says which limit (Karpenter's "all available instance types exceed limits for nodepool").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from infleet.api.labels import GPU_RESOURCE
from infleet.api.quantity import parse_quantity
from infleet.compute.provisioner.pod_shape import Resources

GPUS, CPU, MEMORY, NODES = GPU_RESOURCE, "cpu", "memory", "nodes"


def node_usage(capacity: Resources) -> dict[str, int]:
    """What one node adds to a pool's totals (CPU in millicores, memory in MiB)."""
    return {GPUS: capacity.gpus, CPU: capacity.cpu_m, MEMORY: capacity.memory_mib, NODES: 1}


def parse_limits(limits: Mapping[str, int | str] | None) -> dict[str, int]:
    parsed: dict[str, int] = {}
    for key, value in (limits or {}).items():
        quantity = parse_quantity(value)
        if key == CPU:
            parsed[key] = int(quantity * 1000)
        elif key == MEMORY:
            parsed[key] = int(quantity / (1024 * 1024))
        elif key in (GPUS, NODES):
            parsed[key] = int(quantity)
    return parsed


def _shown(key: str, value: int) -> str:
    if key == CPU:
        return f"{value / 1000:g}"
    if key == MEMORY:
        return f"{value / 1024:g}Gi"
    return str(value)


@dataclass
class PoolLimits:
    pool: str
    limits: dict[str, int]
    used: dict[str, int] = field(default_factory=dict)

    def allows(self, delta: Mapping[str, int]) -> bool:
        return all(
            self.used.get(key, 0) + delta.get(key, 0) <= limit
            for key, limit in self.limits.items()
            if delta.get(key, 0) > 0
        )

    def add(self, delta: Mapping[str, int]) -> None:
        for key, value in delta.items():
            self.used[key] = self.used.get(key, 0) + value

    def exceeded(self, delta: Mapping[str, int]) -> str:
        """The limits ``delta`` would breach, as ``nvidia.com/gpu 16/16``."""
        breached = [
            f"{key} {_shown(key, self.used.get(key, 0))}/{_shown(key, limit)}"
            for key, limit in sorted(self.limits.items())
            if delta.get(key, 0) > 0 and self.used.get(key, 0) + delta[key] > limit
        ]
        return ", ".join(breached)

    def message(self, delta: Mapping[str, int]) -> str:
        return f"all available instance types exceed limits for nodepool {self.pool}: {self.exceeded(delta)}"
