"""Sub-reconcilers: every phase runs in order, the soonest requeue wins, errors are joined."""

from __future__ import annotations

import pytest

from infleet.kube.api_error import KubeAPIError, is_stale_write
from infleet.kube.reconciler import Result, TerminalError
from infleet.kube.sub_reconciler import combine, reconcile_phases


class Phase:
    def __init__(self, name: str, outcome: Result | Exception) -> None:
        self.name, self.outcome = name, outcome

    async def reconcile(self, obj: list[str]) -> Result:
        obj.append(self.name)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def test_combine_keeps_the_soonest_requeue() -> None:
    assert combine([Result(), Result(requeue_after=30), Result(requeue_after=5)]) == Result(requeue_after=5)
    assert combine([Result(), Result()]) == Result()


async def test_phases_run_in_order_and_the_soonest_requeue_wins() -> None:
    seen: list[str] = []
    phases = [Phase("size", Result()), Phase("scale", Result(requeue_after=5)), Phase("status", Result(2))]
    assert await reconcile_phases(phases, seen) == Result(requeue_after=2)
    assert seen == ["size", "scale", "status"]


async def test_a_failing_phase_does_not_stop_the_others_and_its_error_is_raised_as_is() -> None:
    seen: list[str] = []
    conflict = KubeAPIError(409, "Conflict", "changed")
    with pytest.raises(KubeAPIError) as raised:
        await reconcile_phases([Phase("apply", conflict), Phase("status", Result())], seen)
    assert is_stale_write(raised.value), "the controller still sees a conflict and requeues it quietly"
    assert seen == ["apply", "status"]


async def test_several_errors_are_joined_and_terminal_only_when_all_are() -> None:
    terminal = [Phase("a", TerminalError("bad model")), Phase("b", TerminalError("bad gpu"))]
    with pytest.raises(TerminalError, match="bad model; bad gpu"):
        await reconcile_phases(terminal, [])
    mixed = [Phase("a", TerminalError("bad model")), Phase("b", RuntimeError("timeout"))]
    with pytest.raises(ExceptionGroup) as group:
        await reconcile_phases(mixed, [])
    assert [type(e) for e in group.value.exceptions] == [TerminalError, RuntimeError]
