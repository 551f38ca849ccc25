"""Continuous-batching scheduler that steps like vLLM's V1 scheduler, on any clock.

Each ``schedule()`` builds one step under a token budget: running sequences first (decode, or the
next prefill chunk), then waiting ones FCFS while ``max_num_seqs`` and KV blocks allow, reusing cached
prefix blocks. When a running sequence needs a block and none is free, the most recently admitted
sequence is preempted by recompute (its blocks freed, back to the front of the queue), as vLLM V1
does; a step that preempts admits nobody. With chunked prefill off (vLLM V0's scheduler), a step that
admits prompts runs only whole prompts and the running decodes wait for the next step.
``complete()`` applies the step at its end time. The engine runtime drives it on the event loop;
tests and benchmarks drive it with ``run_until_idle``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from infleet.sim.engine.model.clock import ManualClock
from infleet.sim.engine.model.kv_cache import BlockManager
from infleet.sim.engine.model.performance import PerformanceModel, StepShape
from infleet.sim.engine.model.sequence import Sequence, Status

RUNNING = Status.RUNNING


@dataclass(frozen=True)
class SchedulerConfig:
    max_num_seqs: int = 256
    max_num_batched_tokens: int = 8192
    block_size: int = 16
    chunked_prefill: bool = True
    # Admit a request only when the KV cache can hold its whole life (prompt plus max output) next to
    # what the running ones will still need: TensorRT-LLM's GUARANTEED_NO_EVICT. vLLM admits greedily
    # and preempts instead.
    reserve_full_length: bool = False


@dataclass
class StepPlan:
    """One step: which sequences compute how many tokens, and the shape the roofline prices."""

    items: list[tuple[Sequence, int]] = field(default_factory=list)
    shape: StepShape = field(default_factory=StepShape)
    preempted: int = 0

    @property
    def empty(self) -> bool:
        return not self.items


@dataclass
class SchedulerStats:
    prompt_tokens: int = 0
    generation_tokens: int = 0
    prefix_queries: int = 0
    prefix_hits: int = 0
    preemptions: int = 0
    steps: int = 0


class Scheduler:
    """Waiting queue, running batch and the block pool of one engine."""

    def __init__(
        self, perf: PerformanceModel, config: SchedulerConfig, blocks: BlockManager | None = None
    ) -> None:
        self.perf = perf
        self.config = config
        self._one_gpu_attention = perf.attention_dp
        self.blocks = blocks or BlockManager(perf.num_blocks(config.block_size), config.block_size)
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.stats = SchedulerStats()

    @property
    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    def add(self, seq: Sequence) -> None:
        self.waiting.append(seq)

    def abort(self, seq: Sequence) -> None:
        """Drop a sequence wherever it is (client went away, engine stopping)."""
        if seq.done:
            return
        seq.aborted = True
        if seq.status is Status.RUNNING:
            self.running.remove(seq)
        elif seq in self.waiting:
            self.waiting.remove(seq)
        self.blocks.release(seq.blocks)
        seq.blocks = []
        seq.status = Status.FINISHED

    def _blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.config.block_size)

    def _preempt_newest(self) -> Sequence:
        """Preempt the most recently admitted running sequence (recompute), as vLLM does."""
        victim = self.running.pop()
        self.blocks.release(victim.blocks)
        victim.blocks = []
        victim.num_registered = 0
        victim.num_computed = 0
        victim.status = Status.WAITING
        victim.preemptions += 1
        self.stats.preemptions += 1
        self.waiting.appendleft(victim)
        return victim

    def schedule(self, now: float) -> StepPlan:
        """Decide the step starting at ``now`` and reserve its KV blocks."""
        plan = StepPlan()
        chunked = self.config.chunked_prefill
        if not chunked and self._prefill_only(plan, now):
            return plan
        budget, prefill, decode, context, pairs = self._schedule_running(plan)
        if plan.preempted:
            plan.items = [(s, n) for s, n in plan.items if s.status is Status.RUNNING]
        elif chunked:
            prefill, context, pairs = self._admit_waiting(plan, now, budget, prefill, context, pairs)
        plan.shape = StepShape(
            prefill_tokens=prefill,
            decode_seqs=decode,
            context_tokens=context,
            attention_pairs=pairs,
            prefill_seqs=len(plan.items) - decode,
            largest_prefill_pairs=self._largest_prefill_pairs(plan),
        )
        return plan

    def _largest_prefill_pairs(self, plan: StepPlan) -> float:
        """Attention pairs of the step's largest prefill chunk, for engines that run each sequence's
        attention on one GPU (attention data parallelism); 0 otherwise, without a pass over the batch."""
        if not self._one_gpu_attention:
            return 0.0
        largest = 0.0
        for seq, chunk in plan.items:  # before complete(): num_computed is still where the chunk starts
            if chunk > 1 or seq.num_output == 0:
                largest = max(largest, chunk * (seq.num_computed + chunk / 2))
        return largest

    def _prefill_only(self, plan: StepPlan, now: float) -> bool:
        """Chunked prefill off: admit whole prompts in a step of their own; False when none could be."""
        if not self.waiting:
            return False
        budget = self.config.max_num_batched_tokens
        prefill, context, pairs = self._admit_waiting(plan, now, budget, 0, 0, 0.0, whole=True)
        if not plan.items:
            return False
        plan.shape = StepShape(
            prefill_tokens=prefill,
            context_tokens=context,
            attention_pairs=pairs,
            prefill_seqs=len(plan.items),
            largest_prefill_pairs=self._largest_prefill_pairs(plan),
        )
        return True

    def _schedule_running(self, plan: StepPlan) -> tuple[int, int, int, int, float]:
        """Give each running sequence its next token or prefill chunk, oldest first.

        Returns the budget left and the step's tally so far: prefill tokens, decode sequences, context
        tokens and attention pairs (kept in locals: this loop runs once per sequence per step).
        """
        budget = self.config.max_num_batched_tokens
        bs = self.config.block_size
        prefill = decode = context = 0
        pairs = 0.0
        items = plan.items
        batch = self.running
        # Preemption takes sequences off the end of the batch, so walking it by index sees each sequence
        # still running exactly once, in order, without copying it.
        index = 0
        while index < len(batch) and budget > 0:
            seq = batch[index]
            index += 1
            computed = seq.num_computed
            chunk = seq.prompt_len + seq.num_output - computed
            if chunk > budget:
                chunk = budget
            need = -(-(computed + chunk) // bs) - len(seq.blocks)
            if need > 0 and not self._grow(seq, need, plan):
                continue
            items.append((seq, chunk))
            budget -= chunk
            if chunk == 1 and seq.num_output > 0:
                decode += 1
                pairs += computed + 0.5
            else:
                prefill += chunk
                pairs += chunk * (computed + chunk / 2)
            context += computed
        return budget, prefill, decode, context, pairs

    def _grow(self, seq: Sequence, need: int, plan: StepPlan) -> bool:
        """Give a running sequence ``need`` more blocks, preempting the newest sequences until they fit.

        False when ``seq`` itself had to be preempted.
        """
        new = self.blocks.allocate(need)
        while new is None:
            victim = self._preempt_newest()
            plan.preempted += 1
            if victim is seq:
                return False
            new = self.blocks.allocate(need)
        seq.blocks.extend(new)
        return True

    def _admit_waiting(
        self,
        plan: StepPlan,
        now: float,
        budget: int,
        prefill: int,
        context: int,
        pairs: float,
        *,
        whole: bool = False,
    ) -> tuple[int, int, float]:
        """Admit waiting sequences FCFS while the budget, ``max_num_seqs`` and free blocks allow.

        Continues the tally of ``_schedule_running`` in the same order, so the step's shape (and so its
        priced time) is the same float sum whichever loop a sequence came from.
        """
        waiting = self.waiting
        max_num_seqs = self.config.max_num_seqs
        slack = self._lifetime_slack() if self.config.reserve_full_length else None
        while waiting and budget > 0 and len(self.running) < max_num_seqs:
            seq = waiting[0]
            if seq.arrival > now:
                break  # the runtime is catching up in simulated time; this one had not arrived yet
            if not seq.blocks:
                self._attach_prefix(seq)
            chunk = min(seq.num_tokens - seq.num_computed, budget)
            lifetime = 0
            if slack is not None:
                lifetime = self._blocks_for(seq.prompt_len + seq.max_output) - len(seq.blocks)
            new = None
            if (not whole or chunk == seq.num_tokens - seq.num_computed) and (
                slack is None or lifetime <= slack
            ):
                new = self.blocks.allocate(self._blocks_for(seq.num_computed + chunk) - len(seq.blocks))
            if new is None:
                self.blocks.release(seq.blocks)
                seq.blocks = []
                seq.num_computed = 0
                break
            waiting.popleft()
            if slack is not None:
                slack -= lifetime
            seq.blocks.extend(new)
            seq.status = Status.RUNNING
            if seq.first_scheduled is None:
                seq.first_scheduled = now
            self.running.append(seq)
            plan.items.append((seq, chunk))
            budget -= chunk
            prefill += chunk
            context += seq.num_computed
            pairs += chunk * (seq.num_computed + chunk / 2)
        return prefill, context, pairs

    def _lifetime_slack(self) -> int:
        """Free blocks beyond what the running sequences still need to reach their max output."""
        outstanding = 0
        for seq in self.running:
            outstanding += max(0, self._blocks_for(seq.prompt_len + seq.max_output) - len(seq.blocks))
        return self.blocks.num_free - outstanding

    def _attach_prefix(self, seq: Sequence) -> None:
        """Reuse cached prompt blocks; at least one prompt token is always recomputed, as in vLLM."""
        usable = seq.block_hashes[: (seq.prompt_len - 1) // self.config.block_size]
        first_admission = seq.preemptions == 0
        hit_blocks = self.blocks.acquire_prefix(usable)
        seq.blocks = hit_blocks
        seq.num_registered = len(hit_blocks)
        seq.num_computed = len(hit_blocks) * self.config.block_size
        if first_admission:
            seq.cached_tokens = seq.num_computed
            self.stats.prefix_queries += seq.prompt_len
            self.stats.prefix_hits += seq.num_computed

    def complete(self, plan: StepPlan, end: float) -> list[Sequence]:
        """Apply a step that ended at ``end``; returns sequences that produced a token or finished."""
        self.stats.steps += 1
        touched: list[Sequence] = []
        finished = False
        bs = self.config.block_size
        stats = self.stats
        generated = 0  # summed here, added to the stats once: this loop runs per sequence per step
        for seq, chunk in plan.items:
            if seq.status is not RUNNING:
                continue  # aborted while the step ran
            computed = seq.num_computed = seq.num_computed + chunk
            prompt_len = seq.prompt_len
            if seq.num_registered < len(seq.block_hashes):
                full = min(computed, prompt_len) // bs
                if seq.num_registered < full:
                    self.blocks.register_range(seq.blocks, seq.block_hashes, seq.num_registered, full)
                    seq.num_registered = full
            num_output = seq.num_output
            if computed < prompt_len + num_output:
                continue  # prefill chunk, no token yet
            seq.num_output = num_output = num_output + 1
            generated += 1
            if seq.first_token_time is None:
                seq.first_token_time = end
                stats.prompt_tokens += prompt_len
            seq.last_token_time = end
            if seq.token_times is not None:
                seq.token_times.append(end)
            if num_output >= seq.max_output:
                seq.status = Status.FINISHED
                seq.finished_time = end
                self.blocks.release(seq.blocks)
                seq.blocks = []
                finished = True
            touched.append(seq)
        stats.generation_tokens += generated
        if finished:
            self.running = [s for s in self.running if s.status is Status.RUNNING]
        return touched


def run_until_idle(scheduler: Scheduler, clock: ManualClock, *, max_steps: int = 1_000_000) -> int:
    """Step a scheduler on a manual clock until nothing is left; returns the number of steps."""
    steps = 0
    while scheduler.has_work and steps < max_steps:
        plan = scheduler.schedule(clock.now())
        if plan.empty:
            raise RuntimeError("scheduler has work but planned an empty step: a request can never fit")
        clock.advance(scheduler.perf.step_time(plan.shape))
        scheduler.complete(plan, clock.now())
        steps += 1
    return steps
