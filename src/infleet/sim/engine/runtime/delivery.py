"""Deliveries: how each sequence's progress reaches its client, kept by the runtime beside the model.

The model's ``Sequence`` holds what the engine computes; a ``Delivery`` holds what the host has done
with it: who listens, whether it streams, how much text went out and when, and the error if the engine
died under it. ``Deliveries`` keys them by sequence while the sequence is in flight and decides, after
each step, whose listener is woken now, whose goes through the pacer and whose waits for more text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from infleet.sim.engine.model.sequence import Sequence, Status
from infleet.sim.engine.runtime.pacing import WakePacer

Listener = Callable[["Delivery"], None]


@dataclass(eq=False, slots=True)
class Delivery:
    """One sequence as its client sees it. The listener detaches itself (``None``) once the response ends."""

    seq: Sequence
    listener: Listener | None
    streaming: bool = False
    sent: int = 0  # output tokens already delivered to the client
    last_flush: float = 0.0  # when they were
    error: str | None = None  # set when the engine died under the sequence
    queued: bool = False  # a wake-up is waiting in the pacer (it will send everything due by then)

    def notify(self) -> None:
        """Call the listener now, if one is still attached."""
        if self.listener is not None:
            self.listener(self)


class Deliveries:
    """The deliveries of one engine's sequences in flight."""

    def __init__(self, pacer: WakePacer) -> None:
        self._pacer = pacer
        self._by_seq: dict[Sequence, Delivery] = {}

    def __len__(self) -> int:
        return len(self._by_seq)

    def add(self, seq: Sequence, listener: Listener, *, streaming: bool) -> Delivery:
        delivery = Delivery(seq, listener, streaming)
        self._by_seq[seq] = delivery
        return delivery

    def end(self, seq: Sequence, error: str | None = None) -> None:
        """Tell the client of a sequence that ended outside a step (aborted, failed, finished in a run)."""
        delivery = self._by_seq.pop(seq, None)
        if delivery is None:
            return
        if error is not None:
            delivery.error = error
        delivery.notify()

    def after_step(
        self, touched: list[Sequence], last: float, interval: int, gap: float
    ) -> tuple[list[Sequence], list[Sequence]]:
        """Wake the listeners of sequences a step advanced; ``last`` is the step's end. Returns those that
        produced their first token and those that finished (the engine records both; one pass over the
        batch serves the engine and the clients).

        First tokens are woken at once, so their writes lead the next loop iteration: time to first
        token is what the host's work most easily inflates. Ends, and streams with ``interval`` new
        tokens at least ``gap`` after their last chunk, go through the pacer, a few per iteration.
        """
        by_seq = self._by_seq
        pace = self._pacer.wake
        finished = Status.FINISHED
        firsts: list[Sequence] = []
        ended: list[Sequence] = []
        for seq in touched:
            num_output = seq.num_output
            done = seq.status is finished
            if num_output == 1:
                firsts.append(seq)
            if done:
                ended.append(seq)
            delivery = by_seq.pop(seq, None) if done else by_seq.get(seq)
            if delivery is None:
                continue
            listener = delivery.listener
            if listener is None:
                continue
            if num_output == 1:
                listener(delivery)
            elif not delivery.queued and (
                done
                or (
                    delivery.streaming
                    and num_output - delivery.sent >= interval
                    and last - delivery.last_flush >= gap
                )
            ):
                # One wake-up per delivery in the pacer: when it runs it sends all the text due then
                # (or the end), so queueing another while it waits would only call the listener for nothing.
                delivery.queued = True
                pace(_paced, delivery)
        return firsts, ended


def _paced(delivery: Delivery) -> None:
    delivery.queued = False
    delivery.notify()
