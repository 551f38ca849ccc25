"""A replica's learned prefill time: each stream's first byte teaches it, divided by the requests of
this gateway that were still waiting for theirs, so queueing does not make a fast replica look slow."""

from __future__ import annotations

import pytest

from infleet.gateway.replica import PrefillTicket, Replica
from infleet.gateway.transport import Origin


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def replica() -> Replica:
    return Replica("us/r0", Origin.parse("http://127.0.0.1:9"), "m", frozenset({"m"}))


def test_first_bytes_teach_the_prefill_time_per_request_ahead() -> None:
    rep, clock = replica(), Clock()
    first, second = PrefillTicket(rep, clock), PrefillTicket(rep, clock)
    assert rep.prefilling == 2
    clock.t += 0.4
    first.first_byte()
    assert rep.prefill_seconds == pytest.approx(0.4)
    clock.t += 0.4
    second.first_byte()  # 0.8 s behind one request: 0.4 s of its own
    assert rep.prefill_seconds == pytest.approx(0.4)
    assert rep.prefilling == 0


def test_a_ticket_closes_once_whatever_ends_it() -> None:
    rep, clock = replica(), Clock()
    ticket = PrefillTicket(rep, clock)
    ticket.close()  # the attempt failed, or its answer was not a stream: nothing learned
    ticket.first_byte()
    ticket.close()
    assert (rep.prefilling, rep.prefill_seconds) == (0, 0.0)


def test_the_learned_time_moves_gradually_and_survives_a_reload() -> None:
    rep, clock = replica(), Clock()
    for ttft in (0.2, 1.2):
        ticket = PrefillTicket(rep, clock)
        clock.t += ttft
        ticket.first_byte()
    assert 0.2 < rep.prefill_seconds < 0.5
    new = replica()
    new.adopt_state(rep)
    assert new.prefill_seconds == rep.prefill_seconds
