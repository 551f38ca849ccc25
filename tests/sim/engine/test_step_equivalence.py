"""The engine model's results are pinned: making the simulation cheaper must not change what it computes.

A deterministic workload (Poisson arrivals, shared prompt prefixes, chunked prefills, a KV pool small
enough to preempt, aborts, decode runs cut by arrivals as the runtime cuts them) is stepped on a manual
clock with a step-time function of its own, so the pinned digest depends on the scheduler, the block
pool and decode runs only, not on the roofline's calibration. Every request's admission, token times,
end and preemptions, and every step's shape, go into the digest.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from collections import deque
from typing import cast

import pytest

from infleet.sim.engine.model import decode_run
from infleet.sim.engine.model.kv_cache import BlockManager, block_hashes
from infleet.sim.engine.model.performance import PerformanceModel, StepShape
from infleet.sim.engine.model.scheduler import Scheduler, SchedulerConfig
from infleet.sim.engine.model.sequence import Sequence

BLOCK_SIZE = 16


class LinearStepTime:
    """A step time that depends on every field of the shape, so any change in a shape shows."""

    attention_dp = False  # each sequence's attention split over the GPUs, as tensor parallelism does

    def step_time(self, shape: StepShape) -> float:
        return (
            0.004
            + 2e-5 * shape.prefill_tokens
            + 1e-4 * shape.decode_seqs
            + 3e-8 * shape.context_tokens
            + 1e-11 * shape.attention_pairs
        )

    def __init__(self, blocks: int) -> None:
        self.blocks = blocks

    def num_blocks(self, block_size: int) -> int:
        return self.blocks


def workload(count: int, rate: float, seed: int) -> list[Sequence]:
    rng = random.Random(seed)
    prefixes = [[rng.randrange(1 << 17) for _ in range(rng.randrange(16, 700))] for _ in range(6)]
    seqs: list[Sequence] = []
    arrival = 0.0
    for i in range(count):
        arrival += rng.expovariate(rate)
        prompt = [*rng.choice(prefixes), *(rng.randrange(1 << 17) for _ in range(rng.randrange(1, 1500)))]
        output = rng.choice([1, 2, rng.randrange(3, 40), rng.randrange(40, 300)])
        seq = Sequence(f"r{i}", prompt, ["w"] * output, "length", arrival)
        seq.block_hashes = block_hashes(prompt, BLOCK_SIZE)
        seq.token_times = []
        seqs.append(seq)
    return seqs


def simulate(
    seqs: list[Sequence], run_limit: int, max_num_seqs: int, blocks: int
) -> tuple[Scheduler, list[StepShape]]:
    """Step the requests the way the runtime's step loop does, on simulated time only."""
    perf = LinearStepTime(blocks)
    sched = Scheduler(
        cast(PerformanceModel, perf),
        SchedulerConfig(max_num_seqs=max_num_seqs, max_num_batched_tokens=2048, block_size=BLOCK_SIZE),
        BlockManager(perf.num_blocks(BLOCK_SIZE), BLOCK_SIZE),
    )
    arrivals = deque(seqs)
    # Every 11th request is abandoned by its client 80 ms after it arrived, wherever it then is.
    aborts = deque(sorted((s.arrival + 0.08, i) for i, s in enumerate(seqs) if i % 11 == 5))
    shapes: list[StepShape] = []
    t = 0.0
    while arrivals or sched.has_work:
        while arrivals and arrivals[0].arrival <= t:
            sched.add(arrivals.popleft())
        while aborts and aborts[0][0] <= t:
            sched.abort(seqs[aborts.popleft()[1]])
        if not sched.has_work:
            t = arrivals[0].arrival
            continue
        plan = sched.schedule(t)
        if plan.empty:
            t = arrivals[0].arrival
            continue
        run = decode_run.extend(sched, plan, run_limit)
        ends: list[float] = []
        end = t
        for shape in run:
            end += perf.step_time(shape)
            ends.append(end)
        groups = decode_run.finishing(plan, len(ends))
        if arrivals and arrivals[0].arrival < ends[-1]:
            # An arrival cuts the run at the end of the step in progress.
            ends = ends[: bisect.bisect_right(ends, arrivals[0].arrival) + 1]
        for index in sorted(groups):
            if index < len(ends) - 1:
                decode_run.finish_early(sched, groups[index], ends[: index + 1])
        decode_run.apply(sched, plan, ends)
        shapes.extend(run[: len(ends)])
        t = ends[-1]
    return sched, shapes


def digest(seqs: list[Sequence], sched: Scheduler, shapes: list[StepShape]) -> str:
    """Fields named one by one, so that a field added to a shape or the stats leaves the digest alone."""
    h = hashlib.sha256()
    for s in seqs:
        record = (
            s.request_id,
            s.status.value,
            s.aborted,
            s.num_output,
            s.cached_tokens,
            s.preemptions,
            s.first_scheduled,
            s.first_token_time,
            s.finished_time,
            s.token_times,
        )
        h.update(repr(record).encode())
    for shape in shapes:
        h.update(
            repr(
                (shape.prefill_tokens, shape.decode_seqs, shape.context_tokens, shape.attention_pairs)
            ).encode()
        )
    st = sched.stats
    h.update(
        repr((st.prompt_tokens, st.generation_tokens, st.prefix_queries, st.prefix_hits, st.steps)).encode()
    )
    h.update(repr(st.preemptions).encode())
    return h.hexdigest()[:16]


# (run limit, arrivals/s, max_num_seqs, KV blocks) -> digest, computed with the implementation from
# before the block pool, the scheduler's loops and decode runs were made cheaper (both give these).
PINNED = {
    (1, 60.0, 48, 900): "6c749b441ad414ca",
    (8, 60.0, 48, 900): "5c1c7b3862d6d872",
    (64, 60.0, 48, 900): "550401a2f837ae02",
    (1, 250.0, 256, 6000): "3aa142be1554ca0e",
    (16, 250.0, 256, 6000): "64832616bf86cf92",
}


@pytest.mark.parametrize("case", sorted(PINNED))
def test_results_are_pinned(case: tuple[int, float, int, int]) -> None:
    run_limit, rate, max_num_seqs, blocks = case
    seqs = workload(600, rate=rate, seed=16)
    sched, shapes = simulate(seqs, run_limit, max_num_seqs, blocks)
    assert all(s.done for s in seqs)
    assert sched.stats.preemptions > 0, "the workload must exercise preemption"
    assert sched.stats.prefix_hits > 0, "the workload must exercise the prefix cache"
    assert any(s.aborted for s in seqs)
    assert sched.blocks.num_used == 0
    assert digest(seqs, sched, shapes) == PINNED[case]
