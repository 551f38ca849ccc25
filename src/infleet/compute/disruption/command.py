"""A disruption decision: which nodes go, which replacement NodeClaims come first, and why. Methods
build commands; the orchestrator carries them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infleet.compute.disruption.pricing import Option
from infleet.compute.disruption.state import StateNode


@dataclass(frozen=True)
class Replacement:
    """The node replacing ``old``: what it will be."""

    old: StateNode
    option: Option


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
