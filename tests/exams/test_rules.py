"""Exam window, appeal deadline and minimum age rules."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from exams.rules import age_on, appeal_deadline, meets_minimum_age, within_window

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")
RELEASED = dt.datetime(2026, 3, 2, 15, 30, tzinfo=UTC)  # a Monday afternoon


def can_appeal(now: dt.datetime, released: dt.datetime, tz: dt.tzinfo = UTC) -> bool:
    """How exams.trust.AppealWindow.is_open reads the deadline: from the release until before it."""
    return released <= now < appeal_deadline(released, tz=tz)


def test_appeal_deadline_is_midnight_after_day_seven() -> None:
    assert appeal_deadline(RELEASED) == dt.datetime(2026, 3, 10, tzinfo=UTC)
    assert appeal_deadline(RELEASED, window_days=14) == dt.datetime(2026, 3, 17, tzinfo=UTC)


@pytest.mark.parametrize(("now", "allowed"), [
    (RELEASED, True),
    (dt.datetime(2026, 3, 9, 0, 0, tzinfo=UTC), True),  # day 7, first moment
    (dt.datetime(2026, 3, 9, 23, 59, 59, 999999, tzinfo=UTC), True),  # day 7, last moment
    (dt.datetime(2026, 3, 10, 0, 0, tzinfo=UTC), False),  # day 8
    (dt.datetime(2026, 3, 2, 15, 29, tzinfo=UTC), False),  # before release
])
def test_can_appeal_edges(now: dt.datetime, allowed: bool) -> None:
    assert can_appeal(now, RELEASED) is allowed


def test_naive_datetimes_are_utc() -> None:
    released = RELEASED.replace(tzinfo=None)
    assert appeal_deadline(released) == dt.datetime(2026, 3, 10)
    assert can_appeal(dt.datetime(2026, 3, 9, 23, 0), released)
    assert not can_appeal(dt.datetime(2026, 3, 10, 0, 0), released)


def test_appeal_days_counted_in_local_time() -> None:
    # 23:30 UTC on 28 March is already 29 March in Berlin (day 0), and DST starts that night.
    released = dt.datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    deadline = appeal_deadline(released, tz=BERLIN)
    assert deadline == dt.datetime(2026, 4, 6, 0, 0, tzinfo=BERLIN)
    assert can_appeal(dt.datetime(2026, 4, 5, 23, 59, tzinfo=BERLIN), released, tz=BERLIN)
    assert not can_appeal(dt.datetime(2026, 4, 6, 0, 0, tzinfo=BERLIN), released, tz=BERLIN)


def test_negative_window_is_a_bug() -> None:
    with pytest.raises(ValueError, match="negative"):
        appeal_deadline(RELEASED, window_days=-1)


@pytest.mark.parametrize(("now", "inside"), [
    (dt.datetime(2026, 1, 1, 8, 59), False), (dt.datetime(2026, 1, 1, 9, 0), True),
    (dt.datetime(2026, 1, 1, 16, 59, 59), True), (dt.datetime(2026, 1, 1, 17, 0), False),
    (dt.datetime(2026, 1, 1, 10, 0, tzinfo=BERLIN), True),  # 09:00 UTC
])
def test_within_window(now: dt.datetime, inside: bool) -> None:
    assert within_window(now, dt.datetime(2026, 1, 1, 9, 0), dt.datetime(2026, 1, 1, 17, 0, tzinfo=UTC)) is inside


@pytest.mark.parametrize(("born", "on", "age"), [
    (dt.date(2008, 6, 10), dt.date(2026, 6, 9), 17),
    (dt.date(2008, 6, 10), dt.date(2026, 6, 10), 18),  # on the birthday
    (dt.date(2008, 6, 10), dt.date(2026, 6, 11), 18),
    (dt.date(2008, 2, 29), dt.date(2026, 2, 28), 17),  # leap day birthday: not yet on 28 Feb
    (dt.date(2008, 2, 29), dt.date(2026, 3, 1), 18),
    (dt.date(2008, 2, 29), dt.date(2028, 2, 29), 20),
    (dt.date(2026, 1, 1), dt.date(2026, 1, 1), 0),
])
def test_age_on(born: dt.date, on: dt.date, age: int) -> None:
    assert age_on(born, on) == age


def test_age_before_birth_is_a_bug() -> None:
    with pytest.raises(ValueError, match="before"):
        age_on(dt.date(2026, 1, 2), dt.date(2026, 1, 1))


def test_meets_minimum_age() -> None:
    born = dt.date(2008, 6, 10)
    assert meets_minimum_age(born, dt.date(2026, 6, 10), 18)
    assert not meets_minimum_age(born, dt.date(2026, 6, 9), 18)
    assert meets_minimum_age(born, dt.date(2026, 6, 9), None)
    assert not meets_minimum_age(dt.date(2030, 1, 1), dt.date(2026, 1, 1), 0)  # birth date in the future
