"""CronJob start times as pure functions of the schedule, time zone and "now"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infleet.sim.cron_schedule import TOO_MANY_MISSED, ScheduleError, due

NOW = datetime(2026, 3, 2, 10, 7, 30, tzinfo=UTC)


def test_the_latest_unmet_minute_and_the_next_one() -> None:
    found = due("* * * * *", None, NOW - timedelta(minutes=3), NOW)
    assert found.scheduled == datetime(2026, 3, 2, 10, 7, tzinfo=UTC)
    assert found.missed == 3
    assert found.next_time == datetime(2026, 3, 2, 10, 8, tzinfo=UTC)


def test_nothing_is_due_before_the_first_start_time() -> None:
    found = due("@hourly", None, NOW - timedelta(minutes=5), NOW)
    assert found.scheduled is None
    assert found.missed == 0
    assert found.next_time == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


def test_the_schedule_is_read_in_the_time_zone() -> None:
    found = due("0 9 * * *", "Asia/Tokyo", datetime(2026, 3, 1, 12, tzinfo=UTC), NOW)
    assert found.scheduled == datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo
    assert found.scheduled.isoformat() == "2026-03-02T09:00:00+09:00"


def test_every_counts_from_the_last_start() -> None:
    found = due("@every 1m30s", None, NOW - timedelta(minutes=4), NOW)
    assert found.missed == 2
    assert found.scheduled == NOW - timedelta(minutes=1)
    assert found.next_time == NOW + timedelta(seconds=30)


def test_after_too_many_missed_starts_only_the_latest_counts() -> None:
    found = due("* * * * *", None, NOW - timedelta(days=2), NOW)
    assert found.missed > TOO_MANY_MISSED
    assert found.scheduled == datetime(2026, 3, 2, 10, 7, tzinfo=UTC)
    assert found.next_time == datetime(2026, 3, 2, 10, 8, tzinfo=UTC)


@pytest.mark.parametrize(("schedule", "zone"), [("* * * * *", "Mars/Olympus"), ("61 * * * *", None)])
def test_what_cannot_be_read_says_why(schedule: str, zone: str | None) -> None:
    with pytest.raises(ScheduleError):
        due(schedule, zone, NOW - timedelta(hours=1), NOW)
