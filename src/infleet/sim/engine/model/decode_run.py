"""Decode runs: several consecutive pure-decode steps planned and applied in one pass.

The engine runtime uses a run when streams are coalesced anyway (vLLM's stream interval, or a busy
host), so that simulating k steps costs one pass over the batch instead of k. A run never admits,
preempts or allocates in the middle: its blocks are reserved up front. Sequences that finish inside it
finish at their own step's end (``finishing`` tells the runtime when, ``finish_early`` applies them),
so a client sees its response end when the engine would end it, not when the run does. The runtime may
cut a run short when a request arrives, so the newcomer is admitted at the next step boundary exactly
as without runs.

Multi-step scheduling (vLLM V0's ``--num-scheduler-steps N``) is a run by construction: the scheduler
runs once per N decode steps, so a run of N is planned with ``hold_admissions`` and a request that
arrives, or a slot a finished sequence frees, waits for the run's end.
"""

from __future__ import annotations

from infleet.sim.engine.model.performance import StepShape
from infleet.sim.engine.model.scheduler import Scheduler, StepPlan
from infleet.sim.engine.model.sequence import Sequence, Status


def extend(
    scheduler: Scheduler, plan: StepPlan, max_steps: int, *, hold_admissions: bool = False
) -> list[StepShape]:
    """Shapes of up to ``max_steps`` decode steps from ``plan`` (``[plan.shape]`` when no run fits).

    A run stops where its first sequence finishes while requests wait, so the freed slot is filled at
    the next step as without runs; ``hold_admissions`` (multi-step scheduling) keeps it going."""
    shape = plan.shape
    if max_steps <= 1 or shape.prefill_tokens or plan.preempted or not plan.items:
        return [shape]
    items = plan.items
    remaining = [seq.max_output - seq.num_output for seq, _ in items]
    shortest = min(remaining)
    steps = min(max_steps, max(remaining))
    if scheduler.waiting and not hold_admissions:
        steps = min(steps, shortest)  # a finish frees a slot someone is waiting for
    if steps <= 1 or not _reserve(scheduler, items, remaining, steps):
        return [shape]
    if shortest >= steps:
        # Nobody finishes inside the run: every step decodes them all, each context one longer.
        active = len(items)
        half = active / 2
        start = shape.context_tokens
        return [
            StepShape(decode_seqs=active, context_tokens=c, attention_pairs=c + half)
            for c in range(start, start + steps * active, active)
        ]
    # Step i decodes every sequence with more than i tokens left; each one's context grows by one per step.
    shapes: list[StepShape] = []
    leaving = sorted((left, seq.num_computed) for (seq, _), left in zip(items, remaining, strict=True))
    active = len(leaving)
    context = shape.context_tokens
    gone = 0
    for i in range(steps):
        while gone < len(leaving) and leaving[gone][0] <= i:
            left, start = leaving[gone]
            context -= start + left  # a finished sequence no longer reads its KV
            gone += 1
            active -= 1
        shapes.append(
            StepShape(decode_seqs=active, context_tokens=context, attention_pairs=context + active / 2)
        )
        context += active
    return shapes


def _reserve(
    scheduler: Scheduler, items: list[tuple[Sequence, int]], remaining: list[int], steps: int
) -> bool:
    """Reserve the blocks a run of ``steps`` needs, or nothing (False) when the pool cannot supply them.
    Only sequences that cross a block boundary inside the run need any (one in ``block_size`` steps)."""
    bs = scheduler.config.block_size
    needs: list[tuple[Sequence, int]] = []
    total = 0
    for (seq, _), left in zip(items, remaining, strict=True):
        need = -(-(seq.num_computed + (steps if steps < left else left)) // bs) - len(seq.blocks)
        if need > 0:
            needs.append((seq, need))
            total += need
    if total > scheduler.blocks.num_free:
        return False
    for seq, need in needs:
        got = scheduler.blocks.allocate(need)
        assert got is not None  # checked against num_free above
        seq.blocks.extend(got)
    return True


def finishing(plan: StepPlan, steps: int) -> dict[int, list[Sequence]]:
    """Sequences that end before the run's last step, keyed by the index of the step they end in."""
    out: dict[int, list[Sequence]] = {}
    for seq, _ in plan.items:
        if seq.status is Status.RUNNING:
            left = seq.max_output - seq.num_output
            if left < steps:
                out.setdefault(left - 1, []).append(seq)
    return out


def finish_early(scheduler: Scheduler, seqs: list[Sequence], ends: list[float]) -> list[Sequence]:
    """Apply the last tokens of sequences that end inside a run; ``ends`` are the run's step ends up to
    theirs. Returns those that ended now (one already applied or aborted is skipped)."""
    done: list[Sequence] = []
    for seq in seqs:
        if seq.status is Status.RUNNING:
            _advance(scheduler, seq, seq.max_output - seq.num_output, ends)
            scheduler.running.remove(seq)
            done.append(seq)
    return done


def _advance(scheduler: Scheduler, seq: Sequence, tokens: int, ends: list[float]) -> bool:
    """Give ``seq`` its next ``tokens`` tokens at ``ends``; whether that finished it (blocks released)."""
    seq.num_computed += tokens
    seq.num_output += tokens
    scheduler.stats.generation_tokens += tokens
    last = ends[tokens - 1]
    seq.last_token_time = last
    if seq.token_times is not None:
        seq.token_times.extend(ends[:tokens])
    if seq.num_output < seq.max_output:
        return False
    seq.status = Status.FINISHED
    seq.finished_time = last
    scheduler.blocks.release(seq.blocks)
    seq.blocks = []
    return True


def apply(scheduler: Scheduler, plan: StepPlan, ends: list[float]) -> list[Sequence]:
    """Apply the first ``len(ends)`` steps of a run; returns the sequences that advanced."""
    if len(ends) == 1:
        return scheduler.complete(plan, ends[0])
    steps = len(ends)
    scheduler.stats.steps += steps
    touched: list[Sequence] = []
    finished = False
    running = Status.RUNNING
    last = ends[-1]
    generated = 0
    for seq, _ in plan.items:
        if seq.status is not running:
            continue
        left = seq.max_output - seq.num_output
        if left <= steps:
            finished = _advance(scheduler, seq, left, ends) or finished
        else:  # the common case, kept inline: this loop runs per sequence per run
            seq.num_computed += steps
            seq.num_output += steps
            generated += steps
            seq.last_token_time = last
            if seq.token_times is not None:
                seq.token_times.extend(ends)
        touched.append(seq)
    scheduler.stats.generation_tokens += generated
    if finished:
        scheduler.running = [s for s in scheduler.running if s.status is Status.RUNNING]
    return touched
