"""Single-node consolidation (Karpenter's SingleNodeConsolidation), the last method of a pass: the first
candidate (cheapest to disrupt first) whose pods fit on the other nodes is deleted, or else replaced by
one strictly cheaper node that initializes before it goes.
"""

from __future__ import annotations

from infleet.compute.disruption.budgets import UNDERUTILIZED
from infleet.compute.disruption.command import Command
from infleet.compute.disruption.consolidation import admit, decide, eligible, to_command
from infleet.compute.disruption.pass_context import PassContext

METHOD = "SingleNodeConsolidation"


def single_node_consolidation(ctx: PassContext) -> Command | None:
    for state in eligible(ctx):
        decision = decide(ctx, [state])
        if decision is not None and admit(ctx, decision, UNDERUTILIZED):
            return to_command(ctx, decision, METHOD)
    return None
