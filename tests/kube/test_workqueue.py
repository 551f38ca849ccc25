"""Workqueue semantics with a manual clock: dedupe, per-key serialization, delays, backoff, drain."""

from __future__ import annotations

import asyncio

import pytest

from infleet.kube.backoff import ExponentialBackoff
from infleet.kube.clock import ManualClock
from infleet.kube.rate_limit import RateLimiter, TokenBucket
from infleet.kube.workqueue import ShutDownError, WorkQueue


def queue(clock: ManualClock, jitter: float = 0.0, bucket: TokenBucket | None = None) -> WorkQueue[str]:
    backoff = ExponentialBackoff(base=1.0, cap=8.0, jitter=jitter, random=lambda: 1.0)
    return WorkQueue(clock, RateLimiter(backoff, bucket))


async def next_key(q: WorkQueue[str]) -> str | None:
    """The next ready key, or None if none comes without the clock moving."""
    task = asyncio.ensure_future(q.get())
    for _ in range(10):
        await asyncio.sleep(0)
    if task.done():
        return task.result()
    task.cancel()
    return None


async def test_dedupes_queued_keys() -> None:
    q = queue(ManualClock())
    for key in ("a", "b", "a", "a", "b"):
        q.add(key)
    assert q.depth == 2
    assert [await q.get(), await q.get()] == ["a", "b"]
    assert await next_key(q) is None


async def test_key_added_while_processing_waits_for_done() -> None:
    q = queue(ManualClock())
    q.add("a")
    assert await q.get() == "a"
    q.add("a")
    q.add("a")
    assert await next_key(q) is None, "a key must not be handed out while a worker holds it"
    q.done("a")
    assert await q.get() == "a"
    q.done("a")
    assert await next_key(q) is None, "the two re-adds collapse into one"


async def test_concurrent_workers_never_share_a_key() -> None:
    q = queue(ManualClock())
    active: set[str] = set()
    overlaps = 0
    processed: list[str] = []

    async def worker() -> None:
        nonlocal overlaps
        while True:
            try:
                key = await q.get()
            except ShutDownError:
                return
            overlaps += key in active
            active.add(key)
            await asyncio.sleep(0)
            if len(processed) < 40:
                q.add(key)  # re-added while processing
            processed.append(key)
            active.discard(key)
            q.done(key)

    workers = [asyncio.ensure_future(worker()) for _ in range(4)]
    for key in "abc":
        q.add(key)
    async with asyncio.timeout(5):
        while len(processed) < 40:  # noqa: ASYNC110 (lets the workers run)
            await asyncio.sleep(0)
    q.shutdown()
    await asyncio.gather(*workers)
    assert overlaps == 0
    assert set(processed) == {"a", "b", "c"}


async def test_add_after_waits_for_the_clock_and_earliest_wins() -> None:
    clock = ManualClock()
    q = queue(clock)
    q.add_after("a", 10)
    q.add_after("a", 3)
    q.add_after("a", 20)
    assert q.waiting == 1
    getter = asyncio.ensure_future(q.get())
    await clock.advance(2.9)
    assert not getter.done()
    await clock.advance(0.2)
    assert await asyncio.wait_for(getter, 1) == "a"
    q.done("a")
    await clock.advance(30)
    assert await next_key(q) is None, "the later schedules were superseded"


async def test_rate_limited_backoff_doubles_and_forget_resets() -> None:
    clock = ManualClock()
    q = queue(clock)
    delays = []
    for _ in range(5):
        q.add_rate_limited("a")
        start = clock.now()
        getter = asyncio.ensure_future(q.get())
        while not getter.done():
            await clock.advance(0.5)
        delays.append(clock.now() - start)
        q.done(await getter)
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0]  # base 1 s, capped at 8 s
    assert q.num_requeues("a") == 5
    assert q.retries == 5
    q.forget("a")
    assert q.num_requeues("a") == 0


def test_backoff_jitter_shortens_within_bounds() -> None:
    draws = iter([0.0, 0.5, 1.0])
    backoff = ExponentialBackoff(base=1.0, cap=100.0, jitter=0.2, random=lambda: next(draws))
    assert [backoff.delay(3) for _ in range(3)] == pytest.approx([4.0, 3.6, 3.2])
    assert backoff.delay(0) == 0.0


def test_token_bucket_limits_overall_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=2)
    assert [bucket.reserve(0.0) for _ in range(4)] == pytest.approx([0.0, 0.0, 0.5, 1.0])
    assert bucket.reserve(10.0) == 0.0  # refilled


async def test_bucket_delays_retries_of_different_keys() -> None:
    clock = ManualClock()
    q = queue(clock, bucket=TokenBucket(rate=1.0, burst=1))
    q.add_rate_limited("a")
    q.add_rate_limited("b")
    q.add_rate_limited("c")
    await clock.advance(1.0)
    assert [await q.get(), await q.get()] == ["a", "b"]  # the burst token, then the 1 s refill
    assert await next_key(q) is None, "c's per-key backoff is 1 s but the bucket makes it wait 2 s"
    await clock.advance(1.0)
    assert await q.get() == "c"


async def test_shutdown_drains_queued_keys_then_stops() -> None:
    clock = ManualClock()
    q = queue(clock)
    q.add("a")
    q.add("b")
    q.add_after("later", 5)
    q.shutdown(drain=True)
    q.add("c")  # refused after shutdown
    assert [await q.get(), await q.get()] == ["a", "b"]
    with pytest.raises(ShutDownError):
        await q.get()
    q.done("a")
    assert q.processing == 1
    q.done("b")
    await asyncio.wait_for(q.wait_idle(), 1)


async def test_shutdown_without_drain_wakes_blocked_workers() -> None:
    q = queue(ManualClock())
    getter = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    q.add("a")
    q.shutdown(drain=False)
    with pytest.raises(ShutDownError):
        await asyncio.wait_for(getter, 1)
