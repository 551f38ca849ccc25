"""The step loop: one engine's scheduler stepped on the event loop, in simulated time kept up with real time.

Each step (or decode run of several steps) is priced by the roofline and ends on a timer at its
simulated end. When the loop runs late, overdue steps run back to back so simulated time catches up and
the host's own slowness does not change what the engine reports; beyond a second of lag the simulated
clock jumps instead. An arrival cuts a decode run at the end of the step in progress, so the newcomer
is admitted at the next step boundary exactly as without runs. Streams get a chunk per step unless the
process's flush governor widens the gap between chunks while the host is busy.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from typing import TYPE_CHECKING

from infleet.sim.engine.model import decode_run
from infleet.sim.engine.model.performance import StepShape
from infleet.sim.engine.model.scheduler import StepPlan
from infleet.sim.engine.model.sequence import Sequence
from infleet.sim.engine.runtime.flush_governor import LATE_S, FlushGovernor

if TYPE_CHECKING:
    from infleet.sim.engine.runtime.engine import SimEngine

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


class StepLoop:
    """Runs one engine's steps on the event loop until the engine dies or is stopped."""

    def __init__(self, engine: SimEngine, governor: FlushGovernor) -> None:
        self._engine = engine
        self._governor = governor
        self._wake = asyncio.Event()
        self._interrupt: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.flush_gap = 0.0  # the governor's gap between chunks, when the spec asks to adapt
        self.late_steps = 0
        self.steps = 0
        self._multi_step = engine.spec.num_scheduler_steps > 1

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"engine {self._engine.served_model_name}")
        self._task.add_done_callback(self._on_exit)

    def _on_exit(self, task: asyncio.Task[None]) -> None:
        # A bug in the step loop must not leave requests hanging: the engine dies visibly instead.
        if not task.cancelled() and task.exception() is not None:
            self._engine.kill(f"engine step loop failed: {task.exception()!r}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def wake(self) -> None:
        """Look again at the engine (new faults): an idle loop steps or waits anew."""
        self._wake.set()

    def arrived(self) -> None:
        """A request was queued: wake an idle loop, and cut a decode run at the step in progress (not
        a multi-step run: its scheduler looks at the queue again only when the N steps are done)."""
        self._wake.set()
        if self._multi_step:
            return
        if self._interrupt is not None and not self._interrupt.done():
            self._interrupt.set_result(None)

    def gap(self) -> float:
        """How long a stream may go between chunks now."""
        return max(self.flush_gap, self._engine.spec.stream_flush_interval_s)

    async def _run(self) -> None:
        engine = self._engine
        loop = asyncio.get_running_loop()
        t = loop.time()
        burst = 0
        while not engine.dead:
            if engine.faults.crashed(loop.time()):
                engine.kill("engine crashed (injected fault)")
                return
            if engine.faults.spec.hang or not engine.scheduler.has_work:
                self._wake.clear()
                await self._wait_for_work()
                t = loop.time()
                continue
            t = max(t, loop.time() - _CATCH_UP_LIMIT_S)
            plan = engine.scheduler.schedule(t)
            if plan.empty:  # only requests that arrived after t: wait for real time to reach them
                self._wake.clear()
                await self._wait_for_work(limit_s=0.001)
                t = loop.time()
                continue
            shapes, ends = self._price(plan, t)
            if ends[-1] > loop.time():
                burst = 0
                ends = await self._sleep_through_run(plan, ends)
            else:
                # Overdue (the loop ran late): run now, without waiting on a timer, so simulated time keeps
                # up with real time and requests are not held back by the host's slowness.
                burst += 1
                if burst >= _CATCH_UP_BURST:
                    burst = 0
                    await asyncio.sleep(0)
            self._adapt(loop.time() - ends[-1])
            self.steps += len(ends)
            engine.finish_steps(plan, shapes[: len(ends)], t, ends)
            t = ends[-1]

    def _price(self, plan: StepPlan, start: float) -> tuple[list[StepShape], list[float]]:
        """The shapes of the run that ``plan`` begins at ``start``, and when each of its steps ends."""
        engine = self._engine
        shapes = decode_run.extend(
            engine.scheduler, plan, self._run_limit(plan), hold_admissions=self._multi_step
        )
        degrade = engine.faults.spec.degrade
        ends: list[float] = []
        end = start
        for shape in shapes:
            end += engine.perf.step_time(shape) / degrade
            ends.append(end)
        return shapes, ends

    async def _sleep_through_run(self, plan: StepPlan, ends: list[float]) -> list[float]:
        """Sleep through a run, ending the sequences that finish inside it at their own steps' ends;
        returns the ends of the steps that ran (all, or up to a cut)."""
        if len(ends) == 1 or self._multi_step:
            # Nothing can end before a single step's end; a multi-step run hands its outputs over, ends
            # included, when its last step is done.
            return await self._sleep_through(ends)
        early = _EarlyFinishes(self._engine, decode_run.finishing(plan, len(ends)), ends)
        try:
            return await self._sleep_through(ends)
        finally:
            early.cancel()  # those past a cut did not finish; any still due are applied by finish_steps

    def _run_limit(self, plan: StepPlan) -> int:
        """How many decode steps may run as one: the multi-step count, else the stream interval or
        enough to span the flush gap."""
        if self._multi_step:
            return self._engine.spec.num_scheduler_steps
        limit = self._engine.spec.stream_interval
        gap = self.gap()
        if gap > 0:
            limit = max(limit, int(gap / max(self._engine.perf.step_time(plan.shape), 1e-4)))
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
        crash_after = self._engine.faults.spec.crash_after_s
        if crash_after is not None:
            left = max(0.0, self._engine.faults.applied_at + crash_after - self._engine.now())
            limit_s = left if limit_s is None else min(limit_s, left)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), limit_s)

    def _adapt(self, lateness: float) -> None:
        if lateness > LATE_S:
            self.late_steps += 1
        if self._engine.spec.adaptive_streaming:
            self.flush_gap = self._governor.observe(lateness)
