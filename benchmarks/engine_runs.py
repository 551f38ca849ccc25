"""Workload drivers for the engine calibration: the real scheduler and roofline on a manual clock.

``offline`` queues every request at once (TensorRT-LLM's ``trtllm-bench throughput``, vLLM's
``benchmark_throughput`` / ``benchmark_latency`` and ``bench serve`` at an infinite request rate);
``closed_loop`` keeps C requests in flight (NIM's AIPerf and ``bench serve --max-concurrency``).
"""

from __future__ import annotations

from dataclasses import dataclass

from infleet.sim.engine.model.clock import ManualClock
from infleet.sim.engine.model.performance import PerformanceModel
from infleet.sim.engine.model.scheduler import Scheduler, SchedulerConfig
from infleet.sim.engine.model.sequence import Sequence


@dataclass(frozen=True)
class RunResult:
    output_tps: float  # output tokens per second
    total_tps: float  # prompt and output tokens per second
    ttft_s: float  # mean time to first token
    tpot_s: float  # mean time per output token after the first
    preemptions_per_request: float
    running: float  # mean sequences per decode step (Little's law over the measured span)


def _sequence(index: int, prompt: int, output: int, arrival: float) -> Sequence:
    tokens = [index * 1_000_003 + t for t in range(prompt)]  # distinct prompts: no prefix hits
    return Sequence(f"r{index}", tokens, ["x"] * output, "length", arrival)


def _scheduler(p: PerformanceModel, max_num_seqs: int, max_batched: int, chunked: bool) -> Scheduler:
    reserve = p.profile.name == "tensorrt-llm"  # its default capacity policy never evicts
    return Scheduler(p, SchedulerConfig(max_num_seqs, max_batched, 16, chunked, reserve))


def _summary(seqs: list[Sequence], prompt: int, output: int, span: float) -> RunResult:
    n = len(seqs)
    ttft = sum((s.first_token_time or 0.0) - s.arrival for s in seqs) / n
    tpot = (
        sum(((s.finished_time or 0.0) - (s.first_token_time or 0.0)) / (output - 1) for s in seqs) / n
        if output > 1
        else 0.0
    )
    preempt = sum(s.preemptions for s in seqs) / n
    out_tps = n * output / span
    return RunResult(out_tps, n * (prompt + output) / span, ttft, tpot, preempt, out_tps * tpot)


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
    while sched.has_work:
        plan = sched.schedule(clock.now())
        clock.advance(p.step_time(plan.shape))
        sched.complete(plan, clock.now())
    return _summary(seqs, prompt, output, clock.now())


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
        plan = sched.schedule(clock.now())
        clock.advance(p.step_time(plan.shape))
        for seq in sched.complete(plan, clock.now()):
            if seq.done:
                done.append(seq)
                if made < total:
                    new()
    measured = done[concurrency:] or done
    begin = min(s.arrival for s in measured)
    span = max(s.finished_time or 0.0 for s in measured) - begin
    return _summary(measured, prompt, output, span)
