"""Everything one disruption pass decides with: the snapshot, the screened candidates, budgets, guards,
free capacity, prices, quiet times, node classes and which claims drifted. Built once per pass by the
loop and handed to each method (and to the validation of a command computed on an earlier pass).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FlexNodeClassSpec
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
    #: FlexNodeClass name -> spec
    node_classes: dict[str, FlexNodeClassSpec] = dataclasses.field(default_factory=dict)
    #: NodeClaim name -> why it drifted (the reason of its ``Drifted`` condition)
    drifted: dict[str, str] = dataclasses.field(default_factory=dict)

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

    def fork(self) -> PassContext:
        """A copy whose guards and free capacity can be charged to try a command without spending this
        pass's allowances (multi-node consolidation tries several)."""
        return dataclasses.replace(
            self,
            budgets=self.budgets.fork(),
            serving=self.serving.fork(),
            warm=self.warm.fork(),
            capacity=self.capacity.fork(),
        )
