"""A disruption decision: which nodes go, which replacement NodeClaims come first, and why. Methods
build commands; the loop validates those that need it and the orchestrator carries them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infleet.compute.disruption.pricing import Option
from infleet.compute.disruption.state import StateNode


@dataclass(frozen=True)
class Replacement:
    """One new node for the pods of ``old`` (one node, or several for multi-node consolidation); the old
    nodes go once it is Initialized. ``manifest`` is the NodeClaim to create."""

    old: tuple[StateNode, ...]
    option: Option
    manifest: dict[str, Any]

    @property
    def old_price(self) -> float:
        return sum(state.price or 0.0 for state in self.old)


@dataclass
class Command:
    method: str
    #: Karpenter's budget reason: Empty, Underutilized, Drifted; or Expired.
    reason: str
    delete: list[StateNode] = field(default_factory=list)
    replace: list[Replacement] = field(default_factory=list)
    message: str = ""

    @property
    def empty(self) -> bool:
        return not self.delete and not self.replace

    @property
    def candidates(self) -> list[StateNode]:
        """Every node the command takes away, replaced or not."""
        return [*self.delete, *(state for r in self.replace for state in r.old)]
