"""One injectable clock. All "now" in domain code comes from here so tests can move time."""

from __future__ import annotations

import datetime as dt
import threading


def utcnow() -> dt.datetime:
    """The current time in UTC as a naive datetime (how the database stores it)."""
    return clock.now()


class Clock:
    """Wall clock in UTC, with an offset tests can move forward."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = dt.timedelta(0)
        self._frozen: dt.datetime | None = None

    def now(self) -> dt.datetime:
        """Current (possibly shifted or frozen) UTC time, naive."""
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return dt.datetime.now(dt.UTC).replace(tzinfo=None) + self._offset

    def advance(self, delta: dt.timedelta) -> None:
        """Move time forward (tests)."""
        with self._lock:
            if self._frozen is not None:
                self._frozen += delta
            else:
                self._offset += delta

    def freeze(self, at: dt.datetime) -> None:
        """Stop time at ``at`` (tests)."""
        with self._lock:
            self._frozen = at

    def reset(self) -> None:
        """Back to the real wall clock."""
        with self._lock:
            self._offset = dt.timedelta(0)
            self._frozen = None


clock = Clock()


DEFAULT_TIMEZONE = "Europe/Berlin"


def zone(name: str | None) -> dt.tzinfo:
    """The IANA time zone ``name`` (an unknown or empty name: Europe/Berlin)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def is_timezone(name: str) -> bool:
    """True if ``name`` is a time zone the system knows."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return bool(name)


def to_local(value: dt.datetime, tz: str | None) -> dt.datetime:
    """A stored (naive UTC) time in the zone ``tz``, as an aware datetime."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(zone(tz))


def from_local(value: dt.datetime, tz: str | None) -> dt.datetime:
    """A wall-clock time in the zone ``tz`` as it is stored (naive UTC)."""
    aware = value.replace(tzinfo=zone(tz)) if value.tzinfo is None else value
    return aware.astimezone(dt.UTC).replace(tzinfo=None)


def format_local(value: dt.datetime | None, tz: str | None, *, today: dt.date | None = None) -> str:
    """A stored time shown to the minute in the zone ``tz``; the date only where it is not ``today`` (local)."""
    if value is None:
        return "–"
    local = to_local(value, tz)
    if today is not None and local.date() == today:
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")
