"""Karpenter's validation of a consolidation command: computed on one pass, it is held for the validation
period (``consolidation_validation_seconds``, Karpenter's 15 s) and checked again on the first pass after
it: each node must still be a candidate (not gone, not disrupting, no do-not-disrupt, no loading model),
have the same pods it had (a pod landing on it, or nominated to it, ends the command), still be
consolidatable and within budgets and the serving guards, and the simulation must give the same kind of
result (deletion, or one replacement strictly cheaper than the nodes). A multi- or single-node command
is dropped whole when any node fails; an Emptiness command keeps the nodes that are still empty, as
Karpenter's EmptinessValidator does. Karpenter blocks its loop while it waits; Infleet holds the command
in the loop, so interruptions and pending replacements keep being handled meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass

from infleet.compute.disruption.budgets import EMPTY, UNDERUTILIZED
from infleet.compute.disruption.command import Command
from infleet.compute.disruption.consolidation import admit, decide, to_command
from infleet.compute.disruption.pass_context import PassContext
from infleet.compute.disruption.state import StateNode


def pod_keys(state: StateNode) -> frozenset[str]:
    return frozenset(str(p["metadata"].get("uid") or p["metadata"]["name"]) for p in state.reschedulable)


@dataclass(frozen=True)
class Held:
    """A command waiting for its validation period; ``due`` is on the loop's monotonic clock."""

    command: Command
    due: float
    #: NodeClaim -> the pods it had when the command was computed
    pods: dict[str, frozenset[str]]


def hold(command: Command, due: float) -> Held:
    return Held(command, due, {state.name: pod_keys(state) for state in command.candidates})


def _still_candidate(ctx: PassContext, held: Held, old: StateNode) -> tuple[StateNode | None, str]:
    state = next((s for s in ctx.screened.candidates if s.name == old.name), None)
    if state is None:
        return (
            None,
            f"{old.name} is no longer a candidate: {ctx.screened.refused.get(old.name, 'it is gone')}",
        )
    if pod_keys(state) != held.pods.get(old.name):
        return None, f"pods arrived on or left {old.name} during validation"
    if state.name in ctx.capacity.received:
        return None, f"pending pods now count on {old.name}'s room"
    if not ctx.quiet.consolidatable(state, ctx.snapshot.pools.get(state.pool_name)):
        return None, f"{old.name} is no longer consolidatable"
    return state, ""


def _emptiness(ctx: PassContext, held: Held) -> tuple[Command | None, str]:
    kept: list[StateNode] = []
    why = ""
    for old in held.command.delete:
        state, why = _still_candidate(ctx, held, old)
        if state is None:
            continue
        if ctx.guard(state, EMPTY):
            ctx.book(state)
            ctx.capacity.commit({}, state.name)
            kept.append(state)
        else:
            why = ctx.skipped.get(state.name, "a guard refused it")
    if not kept:
        return None, why
    return Command(held.command.method, EMPTY, delete=kept, message=held.command.message), ""


def _consolidation(ctx: PassContext, held: Held) -> tuple[Command | None, str]:
    states = []
    for old in held.command.candidates:
        state, why = _still_candidate(ctx, held, old)
        if state is None:
            return None, why
        states.append(state)
    decision = decide(ctx, states)
    if decision is None:
        return None, "its pods no longer fit on other nodes or on one strictly cheaper node"
    if (decision.option is None) != (not held.command.replace):
        return None, "the scheduling simulation now gives another result"
    trial = ctx.fork()
    if not admit(trial, decision, UNDERUTILIZED):
        refused = next(
            (trial.skipped[s.name] for s in states if s.name in trial.skipped), "a guard refused it"
        )
        return None, refused
    return to_command(ctx, decision, held.command.method), ""


def revalidate(ctx: PassContext, held: Held, emptiness: bool) -> tuple[Command | None, str]:
    """The command to carry out now (rebuilt over this pass's state), or None and why it was dropped."""
    return _emptiness(ctx, held) if emptiness else _consolidation(ctx, held)
