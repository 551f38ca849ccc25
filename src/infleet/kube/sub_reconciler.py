"""Sub-reconcilers: one phase of a controller each, run in order over the same object, results combined.

Karpenter's lifecycle controllers work this way: every phase (launch, register, initialize, ...) is a
small reconciler of its own; the controller runs them all, keeps the soonest requeue, joins their errors
and patches status once. A phase failing does not stop the phases after it, so one bad step never hides
what the others would have observed or converged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

from infleet.kube.reconciler import Result, TerminalError

Obj = TypeVar("Obj", contravariant=True)


class SubReconciler(Protocol[Obj]):
    """One phase: converges part of ``obj`` (and records what it found on it) and says when to look again."""

    async def reconcile(self, obj: Obj) -> Result: ...


def combine(results: Iterable[Result]) -> Result:
    """The soonest ``requeue_after`` any phase asked for (None when none asked)."""
    delays = [r.requeue_after for r in results if r.requeue_after is not None]
    return Result(requeue_after=min(delays) if delays else None)


async def reconcile_phases(phases: Sequence[SubReconciler[Obj]], obj: Obj) -> Result:
    """Run every phase in order over ``obj``; the combined result, or the phases' errors.

    One error is raised as it is (so the controller still recognises a conflict or a terminal error);
    several are raised together as an :class:`ExceptionGroup`, terminal only when all of them are.
    """
    results: list[Result] = []
    errors: list[Exception] = []
    for phase in phases:
        try:
            results.append(await phase.reconcile(obj))
        except Exception as error:  # every phase runs; errors are reported together below
            errors.append(error)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        if all(isinstance(error, TerminalError) for error in errors):
            raise TerminalError("; ".join(str(error) for error in errors))
        raise ExceptionGroup(f"{len(errors)} phases failed", errors)
    return combine(results)
