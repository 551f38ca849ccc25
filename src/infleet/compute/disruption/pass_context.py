"""Everything one disruption pass decides with: the snapshot, the screened candidates, budgets, guards,
free capacity, prices and quiet times. Built once per pass by the loop and handed to each method.
"""

from __future__ import annotations

from dataclasses import dataclass

from infleet.compute.disruption.budgets import BudgetLedger
from infleet.compute.disruption.candidates import Screened
from infleet.compute.disruption.consolidatable import QuietTimes
from infleet.compute.disruption.packing import FreeCapacity
from infleet.compute.disruption.pricing import PriceBook
from infleet.compute.disruption.serving_guard import ServingGuard
from infleet.compute.disruption.state import Snapshot, StateNode
from infleet.compute.disruption.warm_buffer import WarmBufferGuard
from infleet.compute.disruption_settings import DisruptionSettings


@dataclass
class PassContext:
    snapshot: Snapshot
    screened: Screened
    budgets: BudgetLedger
    serving: ServingGuard
    warm: WarmBufferGuard
    capacity: FreeCapacity
    prices: PriceBook
    quiet: QuietTimes
    now_wall: float
    settings: DisruptionSettings
    #: NodeClaim name -> why a method passed over it this pass (reported in events)
    skipped: dict[str, str]

    def guard(self, state: StateNode, reason: str, replacement_spare: float | None = None) -> bool:
        """Budget, serving and warm-buffer checks; records why a node is passed over."""
        refusal = None
        if self.budgets.remaining(state.pool_name, reason) <= 0:
            refusal = f"the disruption budget of NodePool {state.pool_name} allows no more {reason} nodes now"
        refusal = refusal or self.serving.admit(state) or self.warm.admit(state, replacement_spare)
        if refusal is not None:
            self.skipped[state.name] = refusal
            return False
        return True

    def book(self, state: StateNode, replacement_spare: float | None = None) -> None:
        self.budgets.charge(state.pool_name)
        self.serving.charge(state)
        self.warm.charge(state, replacement_spare)
