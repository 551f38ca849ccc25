"""Workload drivers for the engine calibration: the real scheduler and roofline on a manual clock.

``offline`` queues every request at once (TensorRT-LLM's ``trtllm-bench throughput``, vLLM's
``benchmark_throughput`` / ``benchmark_latency`` and ``bench serve`` at an infinite request rate);
``closed_loop`` keeps C requests in flight (NIM's AIPerf and ``bench serve --max-concurrency``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from infleet.sim.engine.model import decode_run
from infleet.sim.engine.model.clock import ManualClock
from infleet.sim.engine.model.performance import PerformanceModel
from infleet.sim.engine.model.scheduler import Scheduler, SchedulerConfig, StepPlan
from infleet.sim.engine.model.sequence import Sequence


@dataclass(frozen=True)
class RunResult:
    output_tps: float  # output tokens per second
    total_tps: float  # prompt and output tokens per second
    ttft_s: float  # mean time to first token
    tpot_s: float  # mean time per output token after the first
    itl_s: float  # median gap between a stream's chunks, over every stream (vLLM bench's median ITL)
    preemptions_per_request: float
    running: float  # mean sequences per decode step (Little's law over the measured span)


def _sequence(index: int, prompt: int, output: int, arrival: float) -> Sequence:
    tokens = [index * 1_000_003 + t for t in range(prompt)]  # distinct prompts: no prefix hits
    return Sequence(f"r{index}", tokens, ["x"] * output, "length", arrival)


def _scheduler(p: PerformanceModel, max_num_seqs: int, max_batched: int, chunked: bool) -> Scheduler:
    reserve = p.profile.name == "tensorrt-llm"  # its default capacity policy never evicts
    return Scheduler(p, SchedulerConfig(max_num_seqs, max_batched, 16, chunked, reserve))


class _Chunks:
    """When each sequence's streamed chunks reach the client: a chunk per step, or per multi-step run
    (vLLM V0 hands a run's tokens over when its N steps are done)."""

    def __init__(self) -> None:
        self.times: dict[Sequence, list[float]] = {}

    def run(
        self, p: PerformanceModel, sched: Scheduler, plan: StepPlan, clock: ManualClock
    ) -> list[Sequence]:
        """Run ``plan`` (as a multi-step run when the engine schedules that way) and record its chunks;
        returns the sequences that advanced."""
        steps = p.scheduling.steps
        shapes = decode_run.extend(sched, plan, steps, hold_admissions=True) if steps > 1 else [plan.shape]
        ends = []
        for shape in shapes:
            clock.advance(p.step_time(shape))
            ends.append(clock.now())
        touched = decode_run.apply(sched, plan, ends)
        for seq in touched:
            self.times.setdefault(seq, []).append(ends[-1])
        return touched

    def itl(self, seqs: list[Sequence]) -> float:
        gaps = sorted(b - a for s in seqs for a, b in itertools.pairwise(self.times.get(s, ())))
        return gaps[len(gaps) // 2] if gaps else 0.0


def _summary(seqs: list[Sequence], prompt: int, output: int, span: float, chunks: _Chunks) -> RunResult:
    n = len(seqs)
    ttft = sum((s.first_token_time or 0.0) - s.arrival for s in seqs) / n
    tpot = (
        sum((chunks.times[s][-1] - chunks.times[s][0]) / (output - 1) for s in seqs) / n
        if output > 1
        else 0.0
    )
    preempt = sum(s.preemptions for s in seqs) / n
    out_tps = n * output / span
    return RunResult(
        out_tps, n * (prompt + output) / span, ttft, tpot, chunks.itl(seqs), preempt, out_tps * tpot
    )


def offline(
    p: PerformanceModel,
    requests: int,
    prompt: int,
    output: int,
    *,
    max_num_seqs: int = 256,
    max_batched: int = 8192,
    chunked: bool = True,
) -> RunResult:
    """Every request queued at time 0; throughput over the whole run (as the tools report it)."""
    clock = ManualClock()
    sched = _scheduler(p, max_num_seqs, max(max_batched, prompt if not chunked else 16), chunked)
    seqs = [_sequence(i, prompt, output, 0.0) for i in range(requests)]
    for s in seqs:
        sched.add(s)
    chunks = _Chunks()
    while sched.has_work:
        chunks.run(p, sched, sched.schedule(clock.now()), clock)
    return _summary(seqs, prompt, output, clock.now(), chunks)


def closed_loop(
    p: PerformanceModel,
    concurrency: int,
    prompt: int,
    output: int,
    *,
    max_num_seqs: int = 256,
    max_batched: int = 8192,
    requests: int | None = None,
) -> RunResult:
    """``concurrency`` clients, each sending its next request when the last ends; the first wave of
    ``concurrency`` requests is the warm-up and is not measured.

    All clients start at once, as the published tools do: AIPerf / genai-perf concurrency mode without
    a ramp and ``vllm bench serve --max-concurrency`` at an infinite request rate open every session at
    time 0. The first wave's prefills queue behind each other, their chunks finish a step apart, and
    with equal output lengths the later waves keep arriving in those small groups, so a prompt often
    waits for another one's prefill; clients spread evenly over a request's duration never would."""
    clock = ManualClock()
    sched = _scheduler(p, max_num_seqs, max_batched, True)
    total = requests or max(4 * concurrency, 16)
    made = 0
    done: list[Sequence] = []
    chunks = _Chunks()
    starts = [0.0] * concurrency

    def new() -> None:
        nonlocal made
        sched.add(_sequence(made, prompt, output, clock.now()))
        made += 1

    while starts or sched.has_work:
        while starts and starts[0] <= clock.now():
            starts.pop(0)
            new()
        if not sched.has_work:
            clock.set(starts[0])
            continue
        for seq in chunks.run(p, sched, sched.schedule(clock.now()), clock):
            if seq.done:
                done.append(seq)
                if made < total:
                    new()
    measured = done[concurrency:] or done
    begin = min(s.arrival for s in measured)
    span = max(s.finished_time or 0.0 for s in measured) - begin
    return _summary(measured, prompt, output, span, chunks)
