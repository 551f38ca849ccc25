"""Consolidation for pools with ``WhenEmptyOrUnderutilized``, after Emptiness and Expiration found nothing.
First deletion: candidates (fewest pods first) whose pods all fit on the other nodes' free capacity are
deleted, as many as budgets allow (Karpenter's multi-node consolidation, at most 100 candidates). Else
replacement: the first candidate that one strictly cheaper instance type can hold gets that replacement,
which must initialize before the old node goes (single-node consolidation). Spot nodes are only deleted,
never replaced (Karpenter's SpotToSpotConsolidation is off by default).
"""

from __future__ import annotations

from infleet.compute.disruption.budgets import UNDERUTILIZED
from infleet.compute.disruption.candidates import disruption_cost
from infleet.compute.disruption.command import Command, Replacement
from infleet.compute.disruption.pass_context import PassContext
from infleet.compute.disruption.pricing import Option
from infleet.compute.disruption.state import StateNode

WHEN_UNDERUTILIZED = "WhenEmptyOrUnderutilized"


def _eligible(ctx: PassContext) -> list[StateNode]:
    eligible = []
    for state in ctx.screened.candidates:
        pool = ctx.snapshot.pools.get(state.pool_name)
        policy = pool.disruption.consolidation_policy if pool and pool.disruption else WHEN_UNDERUTILIZED
        if policy == WHEN_UNDERUTILIZED and state.reschedulable and ctx.quiet.consolidatable(state, pool):
            eligible.append(state)
    return sorted(eligible, key=disruption_cost)[: ctx.settings.max_candidates]


def _deletions(ctx: PassContext, eligible: list[StateNode]) -> list[StateNode]:
    chosen: list[StateNode] = []
    for state in eligible:
        if state.name in ctx.capacity.received:
            continue
        room = ctx.capacity.place(state.reschedulable, {state.name, *(c.name for c in chosen)})
        if room is None:
            continue
        if ctx.guard(state, UNDERUTILIZED):
            ctx.book(state)
            ctx.capacity.commit(room, state.name)
            chosen.append(state)
    return chosen


def cheaper_option(ctx: PassContext, state: StateNode) -> Option | None:
    """The cheapest offering that holds the node's pods, of its GPU SKU, strictly cheaper than it."""
    pool = ctx.snapshot.pools.get(state.pool_name)
    if pool is None or state.price is None or state.capacity_type == "spot":
        return None
    need = state.requested
    for option in ctx.prices.options(pool):
        if option.price >= state.price:
            return None  # options are cheapest first: nothing cheaper is left
        # Model replicas are sized for their SKU: a replacement keeps it.
        if need.gpus > 0 and option.instance_type.gpu_sku != state.gpu_sku:
            continue
        if need.fits_in(option.capacity):
            return option
    return None


def _replacement(ctx: PassContext, eligible: list[StateNode]) -> Replacement | None:
    for state in eligible:
        option = cheaper_option(ctx, state)
        if option is None:
            continue
        spare = option.capacity.gpus - state.requested.gpus
        if ctx.guard(state, UNDERUTILIZED, spare):
            ctx.book(state, spare)
            return Replacement(state, option)
    return None


def consolidation(ctx: PassContext) -> Command | None:
    eligible = _eligible(ctx)
    deleted = _deletions(ctx, eligible)
    if deleted:
        return Command("Consolidation", UNDERUTILIZED, delete=deleted, message="its pods fit on other nodes")
    replacement = _replacement(ctx, eligible)
    if replacement is None:
        return None
    message = (
        f"replaced by a cheaper {replacement.option.instance_type.name} "
        f"(${replacement.option.price:.2f}/h instead of ${replacement.old.price or 0:.2f}/h)"
    )
    return Command("Consolidation", UNDERUTILIZED, replace=[replacement], message=message)
