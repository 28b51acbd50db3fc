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
