"""A replica's learned prefill speed: each stream's first byte teaches it, divided by the uncached prompt
bytes of this gateway's requests that were still waiting for theirs plus its own, so neither queueing
nor a short or cached prompt makes a replica look slower or faster than it prefills."""

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


def test_first_bytes_teach_the_prefill_time_per_kilobyte_ahead() -> None:
    rep, clock = replica(), Clock()
    first, second = PrefillTicket(rep, clock, 2000.0), PrefillTicket(rep, clock, 6000.0)
    assert rep.prefill_backlog == 8000.0
    clock.t += 0.4
    first.first_byte()  # 2 kB in 0.4 s
    assert rep.prefill_seconds_per_kb == pytest.approx(0.2)
    assert rep.prefill_backlog == 6000.0
    clock.t += 1.2
    second.first_byte()  # 1.6 s behind 2 kB, for 6 kB of its own: 0.2 s per kB again
    assert rep.prefill_seconds_per_kb == pytest.approx(0.2)
    assert rep.prefill_backlog == 0.0


def test_a_short_first_token_on_little_work_does_not_make_a_replica_look_slow() -> None:
    rep, clock = replica(), Clock()
    long_prompt = PrefillTicket(rep, clock, 8000.0)
    clock.t += 0.8
    long_prompt.first_byte()  # 0.1 s per kB
    cached = PrefillTicket(rep, clock, 1024.0)  # a cached prompt counts as the floor, not as 8 kB
    clock.t += 0.1
    cached.first_byte()
    assert rep.prefill_seconds_per_kb == pytest.approx(0.1, rel=0.05)


def test_a_ticket_closes_once_whatever_ends_it() -> None:
    rep, clock = replica(), Clock()
    ticket = PrefillTicket(rep, clock, 3000.0)
    ticket.close()  # the attempt failed, or its answer was not a stream: nothing learned
    ticket.first_byte()
    ticket.close()
    assert (rep.prefill_backlog, rep.prefill_seconds_per_kb) == (0.0, 0.0)


def test_the_learned_time_moves_gradually_and_survives_a_reload() -> None:
    rep, clock = replica(), Clock()
    for ttft in [0.2] * 20 + [1.2]:
        ticket = PrefillTicket(rep, clock, 1000.0)
        clock.t += ttft
        ticket.first_byte()
    assert 0.2 < rep.prefill_seconds_per_kb < 0.35  # one slow answer among many moves it a little
    new = replica()
    new.adopt_state(rep)
    assert new.prefill_seconds_per_kb == rep.prefill_seconds_per_kb


def test_the_round_trip_is_kept_out_of_the_engine_line() -> None:
    rep, clock = replica(), Clock()
    rep.round_trip.observe(0.16)  # a replica in another region, as its scrapes measured it
    for _ in range(5):
        ticket = PrefillTicket(rep, clock, 1000.0)
        clock.t += 0.26
        ticket.first_byte()
    assert rep.network_seconds == 0.16
    # 0.1 s at the engine for 1 kB: learned without the 0.16 s of the path.
    assert rep.prefill_seconds_per_kb == pytest.approx(0.1)
    new = replica()
    new.adopt_state(rep)
    assert new.network_seconds == 0.16


def test_the_round_trip_follows_the_fastest_scrapes() -> None:
    rep = replica()
    assert rep.network_seconds == 0.0  # unknown until scraped
    rep.round_trip.observe(0.08)
    rep.round_trip.observe(0.075)
    assert rep.network_seconds == 0.075  # a new low is taken at once
    rep.round_trip.observe(0.5)  # one slow /metrics on a busy engine barely moves it
    assert rep.network_seconds < 0.1
    for _ in range(100):  # a path that got longer for good shows within a hundred scrapes
        rep.round_trip.observe(0.2)
    assert rep.network_seconds == pytest.approx(0.2, rel=0.02)
