"""The simulated engine at run time: the model of one engine, served on the event loop.

One ``SimEngine`` per served model; the HTTP app calls ``check_accepting``, ``create_sequence`` and
``submit``, and its listener is called back as the sequence progresses. The engine coordinates: the
model (``EngineModel``) computes, the ``StepLoop`` times its steps on the loop's clock, ``Deliveries``
tell clients, ``EngineMetrics`` records, and faults decide when the engine errs, stalls or dies.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Literal

from infleet.api.catalog import Catalog, load_catalog
from infleet.sim.engine.model import decode_run
from infleet.sim.engine.model.engine_model import EngineModel
from infleet.sim.engine.model.performance import StepShape
from infleet.sim.engine.model.requests import InvalidRequestError, new_sequence
from infleet.sim.engine.model.sampling import SamplingParams
from infleet.sim.engine.model.scheduler import StepPlan
from infleet.sim.engine.model.sequence import Sequence, Status
from infleet.sim.engine.model.spec import EngineSpec
from infleet.sim.engine.model.textgen import warm_up
from infleet.sim.engine.runtime.delivery import Deliveries, Delivery, Listener
from infleet.sim.engine.runtime.errors import EngineError, bad_request
from infleet.sim.engine.runtime.faults import FaultSpec, FaultState
from infleet.sim.engine.runtime.flush_governor import FlushGovernor
from infleet.sim.engine.runtime.metrics import CounterValues, EngineMetrics, GaugeValues
from infleet.sim.engine.runtime.pacing import WakePacer
from infleet.sim.engine.runtime.step_loop import StepLoop

Health = Literal["ok", "starting", "dead"]


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
        built = EngineModel.build(spec, self.model, self.gpu, self.served_model_name)
        self.perf, self.scheduler, self.max_model_len = built.perf, built.scheduler, built.max_model_len
        self.success: dict[str, int] = {}
        #: Called with every sequence that ends (finished, aborted or failed): request logs, benchmarks.
        self.finish_observers: list[Callable[[Sequence], None]] = []
        self.rejected = 0
        self.metrics = EngineMetrics(
            self.served_model_name,
            {
                "block_size": str(spec.block_size),
                "num_gpu_blocks": str(self.scheduler.blocks.num_blocks),
                "cache_dtype": spec.kv_cache_dtype,
                "gpu_memory_utilization": f"{self.perf.gpu_memory_utilization:g}",
                "enable_prefix_caching": str(spec.enable_prefix_caching),
            },
            self.max_model_len,
            self._gauges,
            self._counters,
        )
        self._rng = random.Random(spec.seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.dead = False
        self.step_loop = StepLoop(self, self.governor)
        self.faults = FaultState(FaultSpec.parse(spec.faults), 0.0)

    # -- lifecycle -------------------------------------------------------------------------------------

    def now(self) -> float:
        return self._loop.time() if self._loop is not None else 0.0

    async def start(self) -> None:
        warm_up()
        self._loop = asyncio.get_running_loop()
        self.faults = FaultState(self.faults.spec, self.now())
        self.step_loop.start()

    async def stop(self) -> None:
        """Abort everything in flight and stop stepping."""
        self.kill("engine stopped")
        await self.step_loop.stop()

    def set_faults(self, spec: FaultSpec) -> None:
        self.faults = FaultState(spec, self.now())
        self.step_loop.wake()

    def health(self) -> Health:
        now = self.now()
        if self.dead or self.faults.crashed(now):
            return "dead"
        return "starting" if self.faults.starting(now) else "ok"

    def kill(self, reason: str) -> None:
        """Die: everything in flight ends with ``reason`` as its error, and nothing more is accepted."""
        if self.dead:
            return
        self.dead = True
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
        """Tokenize, check lengths against max-model-len and decide the output (400 when it cannot fit)."""
        try:
            return new_sequence(
                request_id,
                prompt,
                params,
                max_model_len=self.max_model_len,
                block_size=self.spec.block_size,
                prefix_caching=self.spec.enable_prefix_caching,
                arrival=self.now(),
            )
        except InvalidRequestError as exc:
            raise bad_request(str(exc)) from exc

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
        if self.dead:
            seq.status = Status.FINISHED
            seq.aborted = True
            self.deliveries.end(seq, "engine is dead")
            return
        self.scheduler.add(seq)
        self.step_loop.arrived()

    def abort(self, seq: Sequence) -> None:
        """End a sequence early (client gone, or a test); its follower is woken."""
        if not seq.done:
            self.scheduler.abort(seq)
            self._count_finish(seq)
            self.deliveries.end(seq)

    # -- stepping --------------------------------------------------------------------------------------

    def finish_early(self, seqs: list[Sequence], ends: list[float]) -> None:
        """End sequences whose last token falls inside a decode run (``ends``: the run's ends up to it)."""
        for seq in decode_run.finish_early(self.scheduler, seqs, ends):
            self._count_finish(seq)
            self.deliveries.end(seq)

    def finish_steps(self, plan: StepPlan, shapes: list[StepShape], start: float, ends: list[float]) -> None:
        """Apply the steps of a run that ended at ``ends``: the model advances, metrics record the steps
        and the sequences' first tokens and ends, and their clients are told."""
        touched = decode_run.apply(self.scheduler, plan, ends)
        self.metrics.observe_steps(shapes, start, ends)
        last = ends[-1]
        # Multi-step scheduling streams a run's tokens when its N steps are done, N at a time.
        interval = max(self.spec.stream_interval, self.spec.num_scheduler_steps)
        gap = self.step_loop.gap()
        firsts, ended = self.deliveries.after_step(touched, last, interval, gap)
        ttft = self.metrics.ttft
        for seq in firsts:
            ttft.observe(last - seq.arrival)
        for seq in ended:
            self._count_finish(seq)

    def _count_finish(self, seq: Sequence) -> None:
        reason = seq.reported_finish_reason
        self.success[reason] = self.success.get(reason, 0) + 1
        for observer in self.finish_observers:
            observer(seq)
        self.metrics.observe_end(seq)

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
