"""Which listeners a step wakes, and when: at once, through the pacer, or not yet."""

from __future__ import annotations

import asyncio

from infleet.sim.engine.model.sequence import Sequence, Status
from infleet.sim.engine.runtime.delivery import Deliveries, Delivery
from infleet.sim.engine.runtime.pacing import WakePacer


def _seq(name: str, outputs: int = 8) -> Sequence:
    return Sequence(
        request_id=name, prompt_token_ids=[1], output_pieces=["x"] * outputs, finish_reason="stop", arrival=0
    )


async def test_first_tokens_wake_at_once_and_the_rest_through_the_pacer() -> None:
    deliveries = Deliveries(WakePacer())
    woken: list[str] = []

    def listener(delivery: Delivery) -> None:
        woken.append(delivery.seq.request_id)
        delivery.sent = delivery.seq.num_output

    first, later = _seq("first"), _seq("later")
    deliveries.add(first, listener, streaming=True)
    deliveries.add(later, listener, streaming=True).sent = 1
    first.num_output, later.num_output = 1, 3
    deliveries.after_step([first, later], last=1.0, interval=2, gap=0.0)
    assert woken == ["first"]  # synchronously; the other waits for the pacer
    await asyncio.sleep(0)
    assert woken == ["first", "later"]


async def test_a_stream_waits_for_its_interval_and_an_end_is_always_told_once() -> None:
    deliveries = Deliveries(WakePacer())
    woken: list[int] = []
    seq = _seq("s", outputs=4)
    deliveries.add(seq, lambda d: woken.append(d.seq.num_output), streaming=True)
    seq.num_output = 2
    deliveries.after_step([seq], last=1.0, interval=4, gap=0.0)
    await asyncio.sleep(0)
    assert woken == []
    seq.num_output, seq.status = 4, Status.FINISHED
    deliveries.after_step([seq], last=2.0, interval=4, gap=0.0)
    await asyncio.sleep(0)
    assert woken == [4]
    assert len(deliveries) == 0  # an ended sequence is forgotten
    deliveries.end(seq, "engine stopped")
    assert woken == [4]


def test_end_carries_the_error_to_the_listener() -> None:
    deliveries = Deliveries(WakePacer())
    errors: list[str | None] = []
    seq = _seq("s")
    deliveries.add(seq, lambda d: errors.append(d.error), streaming=False)
    deliveries.end(seq, "engine is dead")
    assert errors == ["engine is dead"]


async def test_a_stream_waiting_in_the_pacer_is_queued_once_and_gets_all_its_text() -> None:
    deliveries = Deliveries(WakePacer())
    woken: list[tuple[int, bool]] = []

    def listener(delivery: Delivery) -> None:
        woken.append((delivery.seq.num_output, delivery.seq.done))
        delivery.sent = delivery.seq.num_output
        if delivery.seq.done:
            delivery.listener = None

    seq = _seq("s", outputs=4)
    deliveries.add(seq, listener, streaming=True).sent = 1
    for step, n in enumerate((2, 3, 4), start=1):  # three steps before the loop gets to the pacer
        seq.num_output = n
        if n == 4:
            seq.status = Status.FINISHED
        deliveries.after_step([seq], last=float(step), interval=1, gap=0.0)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert woken == [(4, True)]  # one call: all the text and the end
    assert len(deliveries) == 0
