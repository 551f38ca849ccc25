"""Multi-node consolidation (Karpenter's MultiNodeConsolidation), after Emptiness, Drift and Expiration
found nothing: over the consolidation candidates (cheapest to disrupt first, at most 100) that budgets
and guards admit together, a binary search finds the longest prefix of two or more nodes that can all be
deleted (their pods fit elsewhere) or replaced by ONE node strictly cheaper than all of them together.
"""

from __future__ import annotations

from infleet.compute.disruption.budgets import UNDERUTILIZED
from infleet.compute.disruption.command import Command
from infleet.compute.disruption.consolidation import Decision, admit, decide, eligible, to_command
from infleet.compute.disruption.pass_context import PassContext
from infleet.compute.disruption.state import StateNode

METHOD = "MultiNodeConsolidation"


def admitted_together(ctx: PassContext, candidates: list[StateNode]) -> list[StateNode]:
    """The candidates, in order, that budgets and the serving and warm-buffer guards let go together."""
    trial = ctx.fork()
    kept = []
    for state in candidates:
        if trial.guard(state, UNDERUTILIZED):
            trial.book(state)
            kept.append(state)
    return kept


def first_n(ctx: PassContext, candidates: list[StateNode]) -> Decision | None:
    """Karpenter's firstNConsolidationOption: the longest consolidatable prefix, by binary search."""
    if len(candidates) < 2:
        return None  # one node is single-node consolidation's
    low, high = 1, len(candidates) - 1
    best: Decision | None = None
    while low <= high:
        mid = (low + high) // 2
        decision = decide(ctx, candidates[: mid + 1])
        if decision is not None:
            best, low = decision, mid + 1
        else:
            high = mid - 1
    return best


def multi_node_consolidation(ctx: PassContext) -> Command | None:
    decision = first_n(ctx, admitted_together(ctx, eligible(ctx)))
    if decision is None or not admit(ctx.fork(), decision, UNDERUTILIZED):
        return None
    return to_command(ctx, decision, METHOD)
