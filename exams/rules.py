"""Time and age rules for exams: exam windows, appeal deadlines, minimum age.

``appeal_deadline`` is only the calendar arithmetic; the appeal window of a result (the institution's days and
time zone, ended early when the candidate asks for the certificate) is ``exams.trust.appeal_window``, the one
definition the appeal form, the purge and the certificate job read.

Datetimes may be naive (taken as UTC, which is how the database and
``kernel.clock`` store them) or aware; they are compared as instants.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["age_on", "appeal_deadline", "meets_minimum_age", "within_window"]

DEFAULT_APPEAL_DAYS = 7


def _as_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def within_window(now: dt.datetime, opens_at: dt.datetime, closes_at: dt.datetime) -> bool:
    """True when ``opens_at <= now < closes_at``."""
    return _as_utc(opens_at) <= _as_utc(now) < _as_utc(closes_at)


def appeal_deadline(
    result_released_at: dt.datetime, window_days: int = DEFAULT_APPEAL_DAYS, tz: dt.tzinfo = dt.UTC
) -> dt.datetime:
    """First instant at which appeals are closed: midnight (in ``tz``) after the ``window_days``-th day.

    Release day is day 0; an appeal on any moment of day ``window_days`` is still on time.
    The result has the same awareness as the input (naive in, naive UTC out).
    """
    if window_days < 0:
        raise ValueError("window_days must not be negative")
    local_day = _as_utc(result_released_at).astimezone(tz).date()
    last_day = local_day + dt.timedelta(days=window_days + 1)
    closes = dt.datetime(last_day.year, last_day.month, last_day.day, tzinfo=tz).astimezone(dt.UTC)
    return closes.replace(tzinfo=None) if result_released_at.tzinfo is None else closes


def age_on(date_of_birth: dt.date, on_date: dt.date) -> int:
    """Completed years of age on ``on_date`` (someone born on 29 February turns older on 1 March)."""
    if on_date < date_of_birth:
        raise ValueError("on_date is before the date of birth")
    had_birthday = (on_date.month, on_date.day) >= (date_of_birth.month, date_of_birth.day)
    return on_date.year - date_of_birth.year - (0 if had_birthday else 1)


def meets_minimum_age(date_of_birth: dt.date, on_date: dt.date, minimum_age: int | None) -> bool:
    """True when there is no minimum age, or the person has reached it on ``on_date``."""
    if minimum_age is None:
        return True
    return on_date >= date_of_birth and age_on(date_of_birth, on_date) >= minimum_age
