"""Drift, the method after Emptiness (Karpenter's order): claims whose ``Drifted`` reason this pass found
are replaced within the pools' Drifted budgets. Empty drifted nodes are all deleted at once; otherwise
the first drifted node (cheapest to disrupt first) whose pods fit on the other nodes, or on one new node
from its pool's current template, goes, the new node first: it initializes before the old one drains.
No price rule applies, and as in Karpenter drift commands are not held for validation. Screening keeps
out nodes with a loading model replica or ``do-not-disrupt``, and the serving guard still applies.
"""

from __future__ import annotations

from infleet.compute.disruption.budgets import DRIFTED
from infleet.compute.disruption.candidates import disruption_cost
from infleet.compute.disruption.command import Command
from infleet.compute.disruption.consolidation import Decision, fitting_options, to_command
from infleet.compute.disruption.pass_context import PassContext
from infleet.compute.disruption.state import StateNode
from infleet.compute.resources import Resources

METHOD = "Drift"


def _empty(ctx: PassContext, drifted: list[StateNode]) -> Command | None:
    command = Command(METHOD, DRIFTED, message="drifted and empty")
    for state in drifted:
        if not state.reschedulable and state.name not in ctx.capacity.received and ctx.guard(state, DRIFTED):
            ctx.book(state)
            ctx.capacity.commit({}, state.name)
            command.delete.append(state)
    return None if command.empty else command


def _decision(ctx: PassContext, state: StateNode) -> Decision | None:
    _, left = ctx.capacity.place_some(state.reschedulable, {state.name})
    if not left:
        return Decision((state,), None)
    options = fitting_options(ctx, [state], left)
    if not options:
        ctx.skipped[state.name] = (
            f"drifted, but no offering of NodePool {state.pool_name}'s current template holds its pods"
        )
        return None
    used = sum(Resources.of_pod(p).gpus for p in left)
    return Decision((state,), options[0], options[0].capacity.gpus - used)


def drift(ctx: PassContext) -> Command | None:
    drifted = sorted((s for s in ctx.screened.candidates if s.name in ctx.drifted), key=disruption_cost)
    empty = _empty(ctx, drifted)
    if empty is not None:
        return empty
    for state in drifted:
        if not state.reschedulable or state.name in ctx.capacity.received:
            continue
        decision = _decision(ctx, state)
        spare = None if decision is None or decision.option is None else decision.spare_gpus
        if decision is None or not ctx.guard(state, DRIFTED, spare):
            continue
        ctx.book(state, spare)
        command = to_command(ctx, decision, METHOD, DRIFTED)
        command.message = f"drifted ({ctx.drifted[state.name]}): {command.message}"
        return command
    return None
