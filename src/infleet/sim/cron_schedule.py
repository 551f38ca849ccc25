"""When a CronJob is due, as kube-controller-manager's CronJob controller decides it: pure functions of
the schedule, the time zone and an injected "now", so tests need no clock.

Standard five-field schedules and the ``@hourly``-style descriptors go to ``croniter`` (a well-kept
implementation with time-zone and DST handling); ``@every <duration>`` (robfig/cron's constant delay,
which kube accepts) is counted here from the last scheduled time. Called by
:mod:`~infleet.sim.cronjob_controller`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

TOO_MANY_MISSED = 100  # kube warns past this many unmet start times and starts only the latest
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


class ScheduleError(ValueError):
    """The schedule or time zone cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Due:
    """The most recent unmet start time (None when none is due), how many were unmet, and the next."""

    scheduled: datetime | None
    missed: int
    next_time: datetime


def zone(time_zone: str | None) -> ZoneInfo:
    """The CronJob's ``spec.timeZone`` (the controller's own zone, UTC here, when unset)."""
    try:
        return ZoneInfo(time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ScheduleError(f"invalid timeZone: {time_zone!r}: {error}") from None


def _every(schedule: str) -> timedelta | None:
    """The delay of ``@every 1h30m`` (None for any other schedule)."""
    if not schedule.startswith("@every "):
        return None
    text = schedule.removeprefix("@every ").strip()
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ScheduleError(f"unparseable duration in schedule {schedule!r}")
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    if seconds < 1:
        raise ScheduleError(f"schedule {schedule!r}: the delay must be at least one second")
    return timedelta(seconds=int(seconds))


def _cron(schedule: str, start: datetime) -> croniter:
    try:
        return croniter(schedule, start)
    except (ValueError, KeyError) as error:
        raise ScheduleError(f"unparseable schedule {schedule!r}: {error}") from None


def due(schedule: str, time_zone: str | None, earliest: datetime, now: datetime) -> Due:
    """The start times in ``(earliest, now]`` of ``schedule`` read in ``time_zone``: the latest, how
    many, and the first after ``now``."""
    tz = zone(time_zone)
    schedule = schedule.strip()
    delay = _every(schedule)
    if delay is not None:
        base = earliest.replace(microsecond=0)
        count = max(0, int((now - base) / delay))
        return Due(base + count * delay if count else None, count, base + (count + 1) * delay)
    times = _cron(schedule, earliest.astimezone(tz))
    latest: datetime | None = None
    missed = 0
    while (moment := times.get_next(datetime)) <= now:
        latest, missed = moment, missed + 1
        if missed > TOO_MANY_MISSED:
            # Too many to walk one by one: only the latest is started, found from now backwards.
            latest = _cron(schedule, (now + timedelta(seconds=1)).astimezone(tz)).get_prev(datetime)
            moment = _cron(schedule, now.astimezone(tz)).get_next(datetime)
            break
    return Due(latest, missed, moment)
