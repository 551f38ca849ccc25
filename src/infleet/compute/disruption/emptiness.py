"""Emptiness, the first method of each pass: nodes with no pod that would move (daemons aside) for their
pool's ``consolidateAfter`` are deleted, as many as the pools' Empty budgets allow. Both consolidation
policies allow it. Like Karpenter's, the command is validated after the validation period, keeping the
nodes still empty (see ``validation``).
"""

from __future__ import annotations

from infleet.compute.disruption.budgets import EMPTY
from infleet.compute.disruption.command import Command
from infleet.compute.disruption.pass_context import PassContext


def emptiness(ctx: PassContext) -> Command | None:
    command = Command("Emptiness", EMPTY, message="empty for consolidateAfter")
    for state in ctx.screened.candidates:
        if state.reschedulable:
            continue
        if not ctx.quiet.consolidatable(state, ctx.snapshot.pools.get(state.pool_name)):
            continue
        if state.name not in ctx.capacity.received and ctx.guard(state, EMPTY):
            ctx.book(state)
            ctx.capacity.commit({}, state.name)
            command.delete.append(state)
    return None if command.empty else command
