"""Sliding-window rate limits: ``limit(key, per_minute)`` raises TooManyRequests past the limit (``window_seconds``
for windows other than a minute).

The count is the current window's plus the previous window's weighted by how much of it still lies within the
last ``window_seconds`` (the sliding-window counter). A fixed window let a burst straddling a window's end through
twice over (three offers at 0:59 and three more at 1:00 with a limit of three).

Counters live in Redis when REDIS_URL is set (shared by every worker), else in this process.
"""

from __future__ import annotations

import threading
import time

from flask import current_app, has_request_context
from flask_babel import gettext as _

from kernel.errors import TooManyRequests

_lock = threading.Lock()
_counts: dict[tuple[str, int, int], int] = {}  # (key, window length, window) -> count


def hit(key: str, per_minute: int, window_seconds: int = 60, cost: int = 1, now: float | None = None) -> bool:
    """Count one request (or ``cost`` units, such as events in one batch) for ``key`` at ``now`` (the clock if not
    given); False when the uses within the last ``window_seconds`` (a minute) exceed the limit."""
    moment = time.time() if now is None else now
    window = int(moment // window_seconds)
    weight = 1.0 - (moment / window_seconds - window)  # the share of the previous window still inside the last one
    url = current_app.config.get("REDIS_URL")
    if url:
        from redis import Redis

        redis = current_app.extensions.get("aufsicht.ratelimit.redis")
        if redis is None:
            # A Redis that is gone fails the request in seconds (a 503) instead of holding its thread.
            redis = current_app.extensions["aufsicht.ratelimit.redis"] = Redis.from_url(
                url, socket_connect_timeout=5, socket_timeout=5)
        scale = "" if window_seconds == 60 else f"w{window_seconds}:"
        name = f"aufsicht:rl:{key}:{scale}{window}"
        pipe = redis.pipeline()
        pipe.incrby(name, cost)
        pipe.expire(name, 2 * window_seconds)
        pipe.get(f"aufsicht:rl:{key}:{scale}{window - 1}")
        count, _expire, previous = pipe.execute()
        current, before = int(count), int(previous or 0)
    else:
        with _lock:
            for old in [k for k in _counts if k[1] == window_seconds and k[2] < window - 1]:
                del _counts[old]
            slot = (key, window_seconds, window)
            current = _counts[slot] = _counts.get(slot, 0) + cost
            before = _counts.get((key, window_seconds, window - 1), 0)
    return current + before * weight <= per_minute


def limit(key: str, per_minute: int, window_seconds: int = 60, message: str | None = None, cost: int = 1) -> None:
    """Raise TooManyRequests when ``key`` has been used more than ``per_minute`` times this minute (or in
    ``window_seconds``; a use counts ``cost``), with ``message`` if given."""
    if not hit(key, per_minute, window_seconds, cost):
        if message is not None:
            raise TooManyRequests(message)
        if has_request_context():
            raise TooManyRequests(_("Too many requests. Please wait a minute and try again."))
        raise TooManyRequests("Too many requests. Please wait a minute and try again.")


def reset() -> None:
    """Forget the in-process counters (tests)."""
    with _lock:
        _counts.clear()
