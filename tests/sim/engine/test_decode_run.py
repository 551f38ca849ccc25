"""Decode runs: k steps applied at once give the same tokens and times as k single steps."""

from __future__ import annotations

import pytest

from infleet.api.catalog import load_catalog
from infleet.sim.engine.model import decode_run
from infleet.sim.engine.model.clock import ManualClock
from infleet.sim.engine.model.performance import PerformanceModel
from infleet.sim.engine.model.scheduler import Scheduler, SchedulerConfig
from infleet.sim.engine.model.sequence import Sequence


def make(outputs: list[int]) -> tuple[Scheduler, list[Sequence]]:
    catalog = load_catalog()
    sched = Scheduler(PerformanceModel(catalog.model("qwen3-8b"), catalog.gpu("H100")), SchedulerConfig())
    seqs = [
        Sequence(f"r{i}", list(range(i * 1000, i * 1000 + 40)), ["w"] * n, "length", 0.0)
        for i, n in enumerate(outputs)
    ]
    for s in seqs:
        sched.add(s)
    return sched, seqs


def drive(sched: Scheduler, clock: ManualClock, run_steps: int) -> None:
    while sched.has_work:
        plan = sched.schedule(clock.now())
        shapes = decode_run.extend(sched, plan, run_steps)
        ends = []
        for shape in shapes:
            clock.advance(sched.perf.step_time(shape))
            ends.append(clock.now())
        decode_run.apply(sched, plan, ends)


def test_runs_match_single_steps() -> None:
    outputs = [5, 17, 33, 64, 64, 90]
    single, single_seqs = make(outputs)
    clock1 = ManualClock()
    drive(single, clock1, 1)
    batched, batched_seqs = make(outputs)
    clock2 = ManualClock()
    drive(batched, clock2, 16)
    assert batched.stats.steps == single.stats.steps
    assert clock2.now() == pytest.approx(clock1.now())
    for a, b in zip(single_seqs, batched_seqs, strict=True):
        assert a.num_output == b.num_output
        assert b.finished_time == pytest.approx(a.finished_time)
    assert batched.blocks.num_used == 0


def test_no_run_while_prefilling_or_with_a_queue_behind_a_finish() -> None:
    sched, _ = make([10, 50])
    plan = sched.schedule(0.0)  # both prompts prefill in this step
    assert len(decode_run.extend(sched, plan, 8)) == 1
    decode_run.apply(sched, plan, [0.01])
    sched.add(Sequence("late", list(range(40)), ["w"] * 5, "length", 0.0))
    sched.config = SchedulerConfig(max_num_seqs=2)
    plan = sched.schedule(0.02)
    assert len(decode_run.extend(sched, plan, 64)) == 9  # stops where the first one finishes


def test_a_multi_step_run_holds_admissions_past_a_finish() -> None:
    # vLLM V0's --num-scheduler-steps: the scheduler runs once per N steps, so a slot freed inside the
    # run stays empty until the run ends, and the queue waits as long.
    sched, _ = make([10, 50])
    plan = sched.schedule(0.0)
    decode_run.apply(sched, plan, [0.01])
    sched.add(Sequence("late", list(range(40)), ["w"] * 5, "length", 0.0))
    sched.config = SchedulerConfig(max_num_seqs=2)
    plan = sched.schedule(0.02)
    shapes = decode_run.extend(sched, plan, 16, hold_admissions=True)
    assert len(shapes) == 16
    assert [s.decode_seqs for s in shapes[8:10]] == [2, 1]  # the first one ends at its own step
    decode_run.apply(sched, plan, [0.02 + 0.01 * (i + 1) for i in range(16)])
    assert [s.request_id for s in sched.waiting] == ["late"]


def test_early_finishers_end_at_their_own_step_and_free_their_blocks() -> None:
    sched, seqs = make([3, 10])
    clock = ManualClock()
    plan = sched.schedule(clock.now())  # the prefill step
    clock.advance(sched.perf.step_time(plan.shape))
    sched.complete(plan, clock.now())
    plan = sched.schedule(clock.now())
    shapes = decode_run.extend(sched, plan, 9)
    ends = []
    for shape in shapes:
        clock.advance(sched.perf.step_time(shape))
        ends.append(clock.now())
    groups = decode_run.finishing(plan, len(ends))
    assert [[s.request_id for s in group] for group in groups.values()] == [["r0"]]
    (index,) = groups
    free_before = sched.blocks.num_free
    done = decode_run.finish_early(sched, groups[index], ends[: index + 1])
    assert done == [seqs[0]]
    assert seqs[0].num_output == 3
    assert seqs[0].finished_time == ends[index]
    assert sched.blocks.num_free > free_before
    assert sched.running == [seqs[1]]
    assert decode_run.finish_early(sched, groups[index], ends[: index + 1]) == []  # applied once only
    decode_run.apply(sched, plan, ends)
    assert seqs[1].num_output == 10
    assert seqs[0].num_output == 3
