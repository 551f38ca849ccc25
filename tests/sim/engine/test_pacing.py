"""How a hosting process keeps its headroom: paced wake-ups, the CPU meter, adaptive chunking."""

from __future__ import annotations

import asyncio
import time

import pytest

from infleet.sim.engine import EngineSpec, SamplingParams, SimEngine
from infleet.sim.engine.model.sequence import Sequence
from infleet.sim.engine.runtime import flush_governor
from infleet.sim.engine.runtime.delivery import Delivery
from infleet.sim.engine.runtime.flush_governor import FlushGovernor
from infleet.sim.engine.runtime.pacing import WakePacer


def _seq(name: str) -> Sequence:
    return Sequence(
        request_id=name, prompt_token_ids=[1], output_pieces=["x"], finish_reason="stop", arrival=0
    )


async def test_pacer_runs_a_bounded_number_per_iteration_in_order() -> None:
    pacer = WakePacer(per_iteration=4)
    seen: list[tuple[int, str]] = []
    iteration = 0

    def listener(seq: Sequence) -> None:
        seen.append((iteration, seq.request_id))

    for i in range(10):
        pacer.wake(listener, _seq(f"s{i}"))
    for iteration in range(1, 6):  # noqa: B007 - the listener reads it
        await asyncio.sleep(0)
    assert [name for _, name in seen] == [f"s{i}" for i in range(10)]
    per_iteration = [sum(1 for it, _ in seen if it == n) for n in range(1, 6)]
    assert max(per_iteration) == 4
    assert len(pacer) == 0


async def test_a_large_backlog_drains_within_a_few_iterations() -> None:
    pacer = WakePacer(per_iteration=4)
    delivered: list[Sequence] = []
    for i in range(800):
        pacer.wake(delivered.append, _seq(f"s{i}"))
    for _ in range(40):
        await asyncio.sleep(0)
    assert len(delivered) == 800


def test_pacer_refuses_a_zero_budget() -> None:
    with pytest.raises(ValueError, match="per_iteration must be >= 1"):
        WakePacer(per_iteration=0)


class _FixedLoad(FlushGovernor):
    """A governor whose process is always ``busy`` (the tests' own CPU use must not decide)."""

    def __init__(self, busy: float, window_s: float = 0.01) -> None:
        super().__init__(window_s=window_s)
        self.fixed = busy

    def _cpu_share(self, elapsed: float) -> float:
        return self.fixed


class _SteppedTime:
    """Stands in for the ``time`` module the governor reads: monotonic time moves only when the test steps
    it, so a scheduler pause between two observations cannot end a window early."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def process_time(self) -> float:
        return time.process_time()


def test_governor_widens_the_gap_when_busy_or_late_and_narrows_it_when_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _SteppedTime()
    monkeypatch.setattr(flush_governor, "time", clock)
    governor = _FixedLoad(0.9, window_s=0.02)
    assert governor.observe(0.0) == 0.0  # the first window has not ended
    clock.now += 0.025
    assert governor.observe(0.0) == pytest.approx(0.02)
    assert governor.observe(0.0) == pytest.approx(0.02)  # once per window, however many steps report
    governor.fixed = 0.3
    for _ in range(3):
        governor.observe(0.01)  # most steps late: widen although the CPU is idle
    clock.now += 0.025
    assert governor.observe(0.0) == pytest.approx(0.04)
    governor.fixed = 0.65  # between the marks: hold
    clock.now += 0.025
    assert governor.observe(0.0) == pytest.approx(0.04)
    governor.fixed = 0.3
    for _ in range(99):
        governor.observe(0.0)
    clock.now += 0.025
    assert governor.observe(0.01) == pytest.approx(0.03)  # idle, one late step in a hundred: narrow


def test_governor_measures_the_process_cpu_share() -> None:
    governor = FlushGovernor(window_s=0.05)
    spent = time.process_time() + 0.06
    while time.process_time() < spent:
        pass
    assert governor._cpu_share(0.06) > 0.3
    time.sleep(0.05)
    assert governor._cpu_share(0.05) < 0.3


async def _deliveries(busy: float) -> tuple[int, int]:
    """Listener calls and tokens for 4 streams of 24 tokens on an engine whose host is ``busy``."""
    engine = SimEngine(EngineSpec(model="qwen3-8b", gpu="L4"), governor=_FixedLoad(busy))
    await engine.start()
    calls = 0
    ended = 0
    all_ended = asyncio.Event()

    def listener(delivery: Delivery) -> None:
        nonlocal calls, ended
        calls += 1
        delivery.sent = delivery.seq.num_output
        delivery.last_flush = engine.now()
        if delivery.seq.done:
            ended += 1
            if ended == 4:
                all_ended.set()

    try:
        seqs = [
            engine.create_sequence(f"r{i}", f"prompt {i}", SamplingParams(max_tokens=24, ignore_eos=True))
            for i in range(4)
        ]
        for seq in seqs:
            engine.submit(seq, listener, streaming=True)
        async with asyncio.timeout(30):
            await all_ended.wait()
        return calls, sum(seq.num_output for seq in seqs)
    finally:
        await engine.stop()


async def test_a_busy_host_coalesces_chunks_and_an_idle_one_streams_each_token() -> None:
    idle_calls, tokens = await _deliveries(busy=0.0)
    busy_calls, _ = await _deliveries(busy=0.95)
    assert tokens == 96
    assert idle_calls >= tokens * 0.75  # one chunk per token, give or take a late step on a loaded machine
    assert busy_calls <= tokens * 0.4


async def test_a_stream_ending_inside_a_long_run_is_told_at_its_own_step() -> None:
    # A 0.5 s flush interval makes the engine simulate long decode runs; the short request must still learn
    # of its end when the engine ends it, not when the run does.
    spec = EngineSpec(model="meta-llama/Llama-3.1-8B-Instruct", gpu="H100", stream_flush_interval_s=0.5)
    engine = SimEngine(spec)
    await engine.start()
    loop = asyncio.get_running_loop()
    told: dict[str, float] = {}
    ended = asyncio.Event()

    def listener(delivery: Delivery) -> None:
        delivery.sent = delivery.seq.num_output
        delivery.last_flush = engine.now()
        if delivery.seq.done:
            told[delivery.seq.request_id] = loop.time()
            if len(told) == 2:
                ended.set()

    try:
        seqs = {
            name: engine.create_sequence(
                name, f"prompt {name}", SamplingParams(max_tokens=n, ignore_eos=True)
            )
            for name, n in (("short", 6), ("long", 60))
        }
        for seq in seqs.values():
            engine.submit(seq, listener, streaming=True)
        async with asyncio.timeout(30):
            await ended.wait()
    finally:
        await engine.stop()
    short_end = seqs["short"].finished_time
    assert short_end is not None
    assert told["short"] - short_end < 0.1  # told about when it ended (the run went on ~0.35 s more)
    assert told["long"] - told["short"] > 0.2  # while the run it was in went on
