"""The simulated engine at run time: turns requests into sequences and steps the scheduler on the loop.

One ``SimEngine`` per served model; the HTTP app calls ``create_sequence`` / ``submit`` and is called
back as the sequence progresses. Steps are timed by the roofline and run on the event loop's clock;
when the loop runs late the engine catches up in simulated time, so the host's own slowness does not
change what the engine reports. Streams get a chunk per step unless the process's flush governor asks
for fewer, larger ones while the host is busy.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import random
import zlib
from collections.abc import Callable
from typing import Literal

from infleet.api.catalog import Catalog, load_catalog
from infleet.sim.engine.model import decode_run
from infleet.sim.engine.model.kv_cache import BlockManager, block_hashes
from infleet.sim.engine.model.performance import PerformanceModel, StepShape
from infleet.sim.engine.model.sampling import SamplingParams
from infleet.sim.engine.model.scheduler import Scheduler, SchedulerConfig, StepPlan
from infleet.sim.engine.model.sequence import Sequence, Status
from infleet.sim.engine.model.spec import EngineSpec
from infleet.sim.engine.model.textgen import plan_output, warm_up
from infleet.sim.engine.model.tokenizer import encode
from infleet.sim.engine.runtime.delivery import Deliveries, Delivery, Listener
from infleet.sim.engine.runtime.errors import EngineError, bad_request
from infleet.sim.engine.runtime.faults import FaultSpec, FaultState
from infleet.sim.engine.runtime.flush_governor import LATE_S, FlushGovernor
from infleet.sim.engine.runtime.metrics import CounterValues, EngineMetrics, GaugeValues
from infleet.sim.engine.runtime.pacing import WakePacer

Health = Literal["ok", "starting", "dead"]
_CATCH_UP_LIMIT_S = 1.0  # beyond this much lag the simulated clock jumps forward instead
_CATCH_UP_BURST = 4  # overdue steps run back to back, yielding to handlers after this many
_MAX_RUN_STEPS = 64
# The loop's timers have millisecond resolution and fire on average ~0.6 ms after their time; waking this
# much early puts step ends at their simulated time on average instead of always late.
TIMER_LEAD_S = 0.0005


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _EarlyFinishes:
    """Ends the sequences that finish inside a decode run at their own steps' ends, one step at a time:
    runs are usually cut by arrivals after a few steps, so a timer per step up front was mostly waste."""

    def __init__(self, engine: SimEngine, groups: dict[int, list[Sequence]], ends: list[float]) -> None:
        self._engine = engine
        self._groups = groups
        self._order = sorted(groups)
        self._ends = ends
        self._next = 0
        self._timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        if self._next < len(self._order):
            when = self._ends[self._order[self._next]] - TIMER_LEAD_S
            self._timer = asyncio.get_running_loop().call_at(when, self._fire)

    def _fire(self) -> None:
        index = self._order[self._next]
        self._next += 1
        self._engine.finish_early(self._groups[index], self._ends[: index + 1])
        self._arm()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class SimEngine:
    """One simulated vLLM engine: scheduler, performance model, metrics and faults."""

    def __init__(
        self,
        spec: EngineSpec,
        catalog: Catalog | None = None,
        *,
        pacer: WakePacer | None = None,
        governor: FlushGovernor | None = None,
    ) -> None:
        """``pacer`` spreads stream wake-ups over loop iterations and ``governor`` sets how often streams
        get chunks; engines sharing a loop share both."""
        catalog = catalog or load_catalog()
        self.spec = spec
        self.pacer = pacer if pacer is not None else WakePacer()  # an idle pacer is empty, hence falsy
        self.governor = governor if governor is not None else FlushGovernor()
        self.deliveries = Deliveries(self.pacer)
        self.model = catalog.model(spec.model)
        self.gpu = catalog.gpu(spec.gpu)
        self.served_model_name = spec.served_model_name or self.model.served_name
        self.perf = PerformanceModel(
            self.model,
            self.gpu,
            spec.gpus,
            quantization=spec.quantization,
            kv_cache_dtype=spec.kv_cache_dtype,
            gpu_memory_utilization=spec.gpu_memory_utilization,
        )
        capacity = self.perf.num_blocks(spec.block_size) * spec.block_size
        max_len = spec.max_model_len or min(self.model.context_length, capacity)
        if max_len > capacity:
            raise ValueError(
                f"engine {self.served_model_name}: max_model_len {max_len} exceeds the KV cache "
                f"({capacity} tokens on {spec.gpus} x {self.gpu.name}); lower --max-model-len or add GPUs"
            )
        self.max_model_len = max_len
        blocks = BlockManager(
            self.perf.num_blocks(spec.block_size),
            spec.block_size,
            enable_prefix_caching=spec.enable_prefix_caching,
        )
        self.scheduler = Scheduler(
            self.perf,
            SchedulerConfig(
                spec.max_num_seqs, max(spec.max_num_batched_tokens, spec.block_size), spec.block_size
            ),
            blocks,
        )
        self.success: dict[str, int] = {}
        #: Called with every sequence that ends (finished, aborted or failed): request logs, benchmarks.
        self.finish_observers: list[Callable[[Sequence], None]] = []
        self.rejected = 0
        self.metrics = EngineMetrics(
            self.served_model_name,
            {
                "block_size": str(spec.block_size),
                "num_gpu_blocks": str(blocks.num_blocks),
                "cache_dtype": spec.kv_cache_dtype,
                "gpu_memory_utilization": f"{self.perf.gpu_memory_utilization:g}",
                "enable_prefix_caching": str(spec.enable_prefix_caching),
            },
            max_len,
            self._gauges,
            self._counters,
        )
        self._rng = random.Random(spec.seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._dead = False
        self.flush_gap = 0.0
        self._interrupt: asyncio.Future[None] | None = None
        self.late_steps = 0
        self.steps = 0
        self.faults = FaultState(FaultSpec.parse(spec.faults), 0.0)

    # -- lifecycle -------------------------------------------------------------------------------------

    def now(self) -> float:
        return self._loop.time() if self._loop is not None else 0.0

    async def start(self) -> None:
        warm_up()
        self._loop = asyncio.get_running_loop()
        self.faults = FaultState(self.faults.spec, self.now())
        self._task = asyncio.create_task(self._run(), name=f"engine {self.served_model_name}")
        self._task.add_done_callback(self._on_loop_exit)

    def _on_loop_exit(self, task: asyncio.Task[None]) -> None:
        # A bug in the step loop must not leave requests hanging: the engine dies visibly instead.
        if not task.cancelled() and task.exception() is not None:
            self._kill(f"engine step loop failed: {task.exception()!r}")

    async def stop(self) -> None:
        """Abort everything in flight and stop stepping."""
        self._kill("engine stopped")
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def set_faults(self, spec: FaultSpec) -> None:
        self.faults = FaultState(spec, self.now())
        self._wake.set()

    def health(self) -> Health:
        now = self.now()
        if self._dead or self.faults.crashed(now):
            return "dead"
        return "starting" if self.faults.starting(now) else "ok"

    def _kill(self, reason: str) -> None:
        if self._dead:
            return
        self._dead = True
        for seq in [*self.scheduler.running, *self.scheduler.waiting]:
            self.scheduler.abort(seq)
            self._count_finish(seq)
            self.deliveries.end(seq, reason)

    # -- requests --------------------------------------------------------------------------------------

    def check_accepting(self) -> None:
        """Raise the error an inference request gets right now, if any."""
        state = self.health()
        if state == "dead":
            raise EngineError(503, "ServiceUnavailableError", f"engine {self.served_model_name} is dead")
        if state == "starting":
            raise EngineError(
                503, "ServiceUnavailableError", f"engine {self.served_model_name} is still loading"
            )
        limit = self.spec.max_waiting
        if limit is not None and len(self.scheduler.waiting) >= limit:
            self.rejected += 1
            retry = f"{1 + self._rng.random() * 2:.1f}"
            raise EngineError(
                429,
                "RateLimitError",
                f"engine {self.served_model_name}: {len(self.scheduler.waiting)} requests waiting "
                f"(limit {limit}); retry later",
                {"retry-after": retry},
            )
        if self.faults.roll_error():
            raise EngineError(500, "InternalServerError", "injected fault: internal engine error")

    def create_sequence(self, request_id: str, prompt: str | list[int], params: SamplingParams) -> Sequence:
        """Tokenize, check lengths against max-model-len and decide the output."""
        token_ids = encode(prompt) if isinstance(prompt, str) else list(prompt)
        prompt_len = len(token_ids)
        if prompt_len == 0:
            token_ids, prompt_len = [0], 1
        room = self.max_model_len - prompt_len
        if params.max_tokens is not None and params.max_tokens < 1:
            raise bad_request(f"max_tokens must be at least 1, got {params.max_tokens}.")
        if room < 1 or (params.max_tokens is not None and params.max_tokens > room):
            asked = params.max_tokens or 1
            raise bad_request(
                f"This model's maximum context length is {self.max_model_len} tokens. However, you requested "
                f"{prompt_len + asked} tokens ({prompt_len} in the messages, {asked} in the completion). "
                "Please reduce the length of the messages or completion."
            )
        seed_text = (
            f"{prompt if isinstance(prompt, str) else token_ids[:64]}|{params.seed}|{params.max_tokens}"
        )
        out = plan_output(
            seed=zlib.crc32(seed_text.encode()),
            limit=params.max_tokens or room,
            ignore_eos=params.ignore_eos,
            min_tokens=params.min_tokens,
            stop=params.stop,
            json_schema=params.json_schema,
            json_mode=params.json_mode,
        )
        hashes = (
            block_hashes(token_ids, self.spec.block_size, params.cache_salt)
            if self.spec.enable_prefix_caching
            else []
        )
        return Sequence(
            request_id=request_id,
            prompt_token_ids=token_ids,
            output_pieces=out.pieces,
            finish_reason=out.finish_reason,
            stop_reason=out.stop_reason,
            arrival=self.now(),
            block_hashes=hashes,
        )

    def submit(self, seq: Sequence, listener: Listener, *, streaming: bool) -> Delivery:
        """Queue a sequence (after any injected latency spike). ``listener(delivery)`` is called on its
        first token, when it ends (finished, aborted or failed) and, when ``streaming``, as new text is
        due for delivery (every ``stream_interval`` tokens, coalesced when the host runs late)."""
        delivery = self.deliveries.add(seq, listener, streaming=streaming)
        delay = self.faults.roll_spike()
        if delay > 0 and self._loop is not None:
            self._loop.call_later(delay, self._enqueue, seq)
        else:
            self._enqueue(seq)
        return delivery

    def _enqueue(self, seq: Sequence) -> None:
        if seq.done:
            return
        if self._dead:
            seq.status = Status.FINISHED
            seq.aborted = True
            self.deliveries.end(seq, "engine is dead")
            return
        self.scheduler.add(seq)
        self._wake.set()
        if self._interrupt is not None and not self._interrupt.done():
            self._interrupt.set_result(None)

    def abort(self, seq: Sequence) -> None:
        """End a sequence early (client gone, or a test); its follower is woken."""
        if not seq.done:
            self.scheduler.abort(seq)
            self._count_finish(seq)
            self.deliveries.end(seq)

    # -- stepping --------------------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        t = loop.time()
        burst = 0
        while not self._dead:
            if self.faults.crashed(loop.time()):
                self._kill("engine crashed (injected fault)")
                return
            if self.faults.spec.hang or not self.scheduler.has_work:
                self._wake.clear()
                await self._wait_for_work()
                t = loop.time()
                continue
            t = max(t, loop.time() - _CATCH_UP_LIMIT_S)
            plan = self.scheduler.schedule(t)
            if plan.empty:  # only requests that arrived after t: wait for real time to reach them
                self._wake.clear()
                await self._wait_for_work(limit_s=0.001)
                t = loop.time()
                continue
            shapes = decode_run.extend(self.scheduler, plan, self._run_limit(plan))
            ends: list[float] = []
            end = t
            for shape in shapes:
                end += self.perf.step_time(shape) / self.faults.spec.degrade
                ends.append(end)
            if ends[-1] > loop.time():
                burst = 0
                early = _EarlyFinishes(self, decode_run.finishing(plan, len(ends)), ends)
                try:
                    ends = await self._sleep_through(ends)
                finally:
                    early.cancel()  # those past a cut did not finish; any still due are applied below
            else:
                # Overdue (the loop ran late): run now, without waiting on a timer, so simulated time keeps
                # up with real time and requests are not held back by the host's slowness.
                burst += 1
                if burst >= _CATCH_UP_BURST:
                    burst = 0
                    await asyncio.sleep(0)
            self._adapt(loop.time() - ends[-1])
            self._finish_steps(plan, shapes[: len(ends)], t, ends)
            t = ends[-1]

    def finish_early(self, seqs: list[Sequence], ends: list[float]) -> None:
        """End sequences whose last token falls inside a decode run (``ends``: the run's ends up to it)."""
        for seq in decode_run.finish_early(self.scheduler, seqs, ends):
            self._count_finish(seq)
            self.deliveries.end(seq)

    def _run_limit(self, plan: StepPlan) -> int:
        """How many decode steps may run as one: the stream interval, or enough to span the flush gap."""
        limit = self.spec.stream_interval
        gap = max(self.flush_gap, self.spec.stream_flush_interval_s)
        if gap > 0:
            limit = max(limit, int(gap / max(self.perf.step_time(plan.shape), 1e-4)))
        return min(limit, _MAX_RUN_STEPS)

    async def _sleep_through(self, ends: list[float]) -> list[float]:
        """Sleep until the run ends; an arrival cuts it at the end of the step in progress."""
        loop = asyncio.get_running_loop()
        if len(ends) == 1:
            await asyncio.sleep(ends[0] - TIMER_LEAD_S - loop.time())
            return ends
        interrupt: asyncio.Future[None] = loop.create_future()
        self._interrupt = interrupt
        timer = loop.call_at(ends[-1] - TIMER_LEAD_S, _resolve, interrupt)
        try:
            await interrupt
        finally:
            timer.cancel()
            self._interrupt = None
        now = loop.time() + TIMER_LEAD_S
        if now >= ends[-1]:
            return ends
        cut = ends[: bisect.bisect_right(ends, now) + 1]
        if cut[-1] > now:
            await asyncio.sleep(cut[-1] - now)
        return cut

    async def _wait_for_work(self, limit_s: float | None = None) -> None:
        crash_after = self.faults.spec.crash_after_s
        if crash_after is not None:
            left = max(0.0, self.faults.applied_at + crash_after - self.now())
            limit_s = left if limit_s is None else min(limit_s, left)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), limit_s)

    def _adapt(self, lateness: float) -> None:
        if lateness > LATE_S:
            self.late_steps += 1
        if self.spec.adaptive_streaming:
            self.flush_gap = self.governor.observe(lateness)

    def _finish_steps(self, plan: StepPlan, shapes: list[StepShape], start: float, ends: list[float]) -> None:
        self.steps += len(ends)
        touched = decode_run.apply(self.scheduler, plan, ends)
        m = self.metrics
        before = start
        for shape, end in zip(shapes, ends, strict=True):
            m.iteration.observe(shape.decode_seqs + shape.prefill_tokens)
            if shape.decode_seqs:
                m.itl.observe(end - before, shape.decode_seqs)
                m.tpot.observe(end - before, shape.decode_seqs)
            before = end
        last = ends[-1]
        ttft = m.ttft
        finished = Status.FINISHED
        for seq in touched:
            if seq.num_output == 1:
                ttft.observe(last - seq.arrival)
            if seq.status is finished:
                self._count_finish(seq)
        gap = max(self.flush_gap, self.spec.stream_flush_interval_s)
        self.deliveries.after_step(touched, last, self.spec.stream_interval, gap)

    def _count_finish(self, seq: Sequence) -> None:
        reason = seq.reported_finish_reason
        self.success[reason] = self.success.get(reason, 0) + 1
        for observer in self.finish_observers:
            observer(seq)
        if seq.finished_time is None:
            return
        m = self.metrics
        m.e2e.observe(seq.finished_time - seq.arrival)
        m.prompt_len.observe(seq.prompt_len)
        m.gen_len.observe(seq.num_output)
        if seq.first_scheduled is not None and seq.first_token_time is not None:
            m.queue.observe(seq.first_scheduled - seq.arrival)
            m.inference.observe(seq.finished_time - seq.first_scheduled)
            m.prefill.observe(seq.first_token_time - seq.first_scheduled)
            m.decode.observe(seq.finished_time - seq.first_token_time)

    # -- metrics sources -------------------------------------------------------------------------------

    def _gauges(self) -> GaugeValues:
        s = self.scheduler
        return GaugeValues(running=len(s.running), waiting=len(s.waiting), kv_usage=s.blocks.usage)

    def _counters(self) -> CounterValues:
        st = self.scheduler.stats
        return CounterValues(
            prompt_tokens=st.prompt_tokens,
            generation_tokens=st.generation_tokens,
            prefix_queries=st.prefix_queries,
            prefix_hits=st.prefix_hits,
            preemptions=st.preemptions,
            success=dict(self.success),
            rejected=self.rejected,
        )

    @property
    def load(self) -> int:
        return len(self.scheduler.running) + len(self.scheduler.waiting)
