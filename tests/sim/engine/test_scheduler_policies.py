"""Scheduler policies beyond the default: chunked prefill off, preemption order, no-evict admission."""

from __future__ import annotations

from infleet.api.catalog import load_catalog
from infleet.sim.engine.model.clock import ManualClock
from infleet.sim.engine.model.kv_cache import BlockManager
from infleet.sim.engine.model.performance import PerformanceModel
from infleet.sim.engine.model.scheduler import Scheduler, SchedulerConfig, run_until_idle
from infleet.sim.engine.model.sequence import Sequence, Status


def perf() -> PerformanceModel:
    catalog = load_catalog()
    return PerformanceModel(catalog.model("llama-3.1-8b-instruct"), catalog.gpu("H100"))


def seq(name: str, tag: int, prompt: int, output: int) -> Sequence:
    return Sequence(name, [tag * 100_000 + i for i in range(prompt)], ["x"] * output, "length", 0.0)


def test_without_chunked_prefill_a_new_prompt_runs_alone_and_decodes_wait() -> None:
    sched = Scheduler(perf(), SchedulerConfig(max_num_batched_tokens=4096, chunked_prefill=False))
    clock = ManualClock()
    first = seq("a", 1, 100, 50)
    sched.add(first)
    for _ in range(3):  # prefill, then decodes
        plan = sched.schedule(clock.now())
        clock.advance(0.01)
        sched.complete(plan, clock.now())
    assert first.num_output == 3
    sched.add(seq("b", 2, 3000, 10))
    plan = sched.schedule(clock.now())
    assert [s.request_id for s, _ in plan.items] == ["b"]  # a prefill-only step: "a" stalls
    assert plan.shape.decode_seqs == 0
    assert plan.shape.prefill_tokens == 3000
    sched.complete(plan, clock.now())
    plan = sched.schedule(clock.now())
    assert {s.request_id for s, _ in plan.items} == {"a", "b"}  # then both decode


def test_with_chunked_prefill_decodes_ride_along_with_the_prompt_chunk() -> None:
    sched = Scheduler(perf(), SchedulerConfig(max_num_batched_tokens=1024))
    first = seq("a", 1, 100, 50)
    sched.add(first)
    sched.complete(sched.schedule(0.0), 0.01)
    sched.add(seq("b", 2, 3000, 10))
    plan = sched.schedule(0.01)
    assert {s.request_id: n for s, n in plan.items} == {"a": 1, "b": 1023}


def test_long_context_preempts_the_newest_sequence_by_recompute() -> None:
    # 40 blocks of 16 tokens: three 200-token prompts fit, their growth does not.
    blocks = BlockManager(40, 16, enable_prefix_caching=False)
    sched = Scheduler(perf(), SchedulerConfig(max_num_batched_tokens=8192), blocks)
    seqs = [seq(f"r{i}", i, 200, 60) for i in range(3)]
    for s in seqs:
        sched.add(s)
    clock = ManualClock()
    victim_order: list[str] = []
    while sched.has_work:
        plan = sched.schedule(clock.now())
        if plan.preempted:
            victim_order += [s.request_id for s in seqs if s.status is Status.WAITING and s.preemptions]
            assert sched.waiting[0].num_computed == 0  # recompute: its KV is gone
        clock.advance(sched.perf.step_time(plan.shape))
        sched.complete(plan, clock.now())
    assert victim_order
    assert victim_order[0] == "r2"
    assert seqs[0].preemptions == 0
    assert all(s.done for s in seqs)


def test_reserving_the_full_length_never_preempts() -> None:
    for reserve, expect_preemptions in ((False, True), (True, False)):
        blocks = BlockManager(40, 16, enable_prefix_caching=False)
        config = SchedulerConfig(max_num_batched_tokens=8192, reserve_full_length=reserve)
        sched = Scheduler(perf(), config, blocks)
        for i in range(3):
            sched.add(seq(f"r{i}", i, 200, 60))
        run_until_idle(sched, ManualClock())
        assert (sched.stats.preemptions > 0) is expect_preemptions
