"""Continuous batching on a manual clock: throughput vs latency, KV exhaustion, prefix hits, chunking."""

from __future__ import annotations

from infleet.api.catalog import load_catalog
from infleet.sim.engine.model.clock import ManualClock
from infleet.sim.engine.model.kv_cache import BlockManager, block_hashes
from infleet.sim.engine.model.performance import PerformanceModel
from infleet.sim.engine.model.scheduler import Scheduler, SchedulerConfig, run_until_idle
from infleet.sim.engine.model.sequence import Sequence


def perf(model: str = "llama-3.1-8b-instruct", gpu: str = "H100") -> PerformanceModel:
    catalog = load_catalog()
    return PerformanceModel(catalog.model(model), catalog.gpu(gpu))


def seq(name: str, prompt: list[int], output: int, arrival: float = 0.0) -> Sequence:
    return Sequence(name, prompt, ["x"] * output, "length", arrival, block_hashes=block_hashes(prompt, 16))


def prompt(tag: int, length: int) -> list[int]:
    return [tag * 100_000 + i for i in range(length)]


def run_batch(batch: int) -> tuple[float, float]:
    """Output tokens/s and mean end-to-end latency for ``batch`` identical-size requests."""
    clock = ManualClock()
    sched = Scheduler(perf(), SchedulerConfig())
    seqs = [seq(f"r{i}", prompt(i, 256), 64) for i in range(batch)]
    for s in seqs:
        sched.add(s)
    run_until_idle(sched, clock)
    latency = sum((s.finished_time or 0.0) - s.arrival for s in seqs) / batch
    return batch * 64 / clock.now(), latency


def test_batching_raises_throughput_and_latency_together() -> None:
    tput1, lat1 = run_batch(1)
    tput16, lat16 = run_batch(16)
    tput64, lat64 = run_batch(64)
    assert tput1 < tput16 < tput64
    assert lat1 < lat16 < lat64
    assert tput64 > 10 * tput1  # decode is memory bound: a batch rides on the same weight reads


def test_run_is_deterministic() -> None:
    assert run_batch(8) == run_batch(8)


def test_max_num_seqs_caps_the_running_batch() -> None:
    sched = Scheduler(perf(), SchedulerConfig(max_num_seqs=4))
    for i in range(10):
        sched.add(seq(f"r{i}", prompt(i, 32), 8))
    sched.schedule(0.0)
    assert len(sched.running) == 4
    assert len(sched.waiting) == 6


def test_long_prompt_is_prefilled_in_chunks() -> None:
    clock = ManualClock()
    sched = Scheduler(perf(), SchedulerConfig(max_num_batched_tokens=512))
    s = seq("long", prompt(1, 2000), 4)
    sched.add(s)
    steps = run_until_idle(sched, clock)
    assert steps == 4 + 3  # four prefill chunks (the last one yields token 1), then three decodes
    assert s.num_output == 4


def test_kv_exhaustion_queues_then_preempts_and_everyone_finishes() -> None:
    p = perf()
    pool = BlockManager(40, 16)  # 640 tokens of KV
    sched = Scheduler(p, SchedulerConfig(block_size=16), pool)
    seqs = [seq(f"r{i}", prompt(i, 150), 120) for i in range(6)]
    for s in seqs:
        sched.add(s)
    sched.schedule(0.0)
    assert sched.waiting, "not every prompt fits: some must queue"
    clock = ManualClock()
    run_until_idle(sched, clock)
    assert sched.stats.preemptions > 0, "growing decodes overflow the cache and force preemption"
    assert all(s.num_output == 120 for s in seqs)
    assert pool.num_used == 0


def test_prefix_hit_cuts_ttft() -> None:
    p = perf("llama-3.1-8b-instruct", "L40S")
    sched = Scheduler(p, SchedulerConfig())
    clock = ManualClock()
    shared = prompt(7, 4000)
    first = seq("a", [*shared, 1, 2, 3], 4)
    sched.add(first)
    run_until_idle(sched, clock)
    start = clock.now()
    second = seq("b", [*shared, 4, 5, 6], 4, arrival=start)
    sched.add(second)
    run_until_idle(sched, clock)
    ttft_first = (first.first_token_time or 0.0) - first.arrival
    ttft_second = (second.first_token_time or 0.0) - second.arrival
    assert second.cached_tokens == 4000
    assert sched.stats.prefix_hits == 4000
    assert ttft_second < ttft_first / 5


def test_prefix_cache_off_gives_no_hits() -> None:
    p = perf()
    sched = Scheduler(p, SchedulerConfig(), BlockManager(p.num_blocks(16), 16, enable_prefix_caching=False))
    clock = ManualClock()
    for name in ("a", "b"):
        sched.add(seq(name, prompt(3, 512), 2, arrival=clock.now()))
        run_until_idle(sched, clock)
    assert sched.stats.prefix_hits == 0
    assert sched.stats.prefix_queries == 1024


def test_abort_frees_blocks() -> None:
    p = perf()
    sched = Scheduler(p, SchedulerConfig())
    s = seq("a", prompt(1, 100), 50)
    sched.add(s)
    sched.schedule(0.0)
    assert sched.blocks.num_used > 0
    sched.abort(s)
    assert sched.blocks.num_used == 0
    assert s.reported_finish_reason == "abort"
    assert not sched.has_work
