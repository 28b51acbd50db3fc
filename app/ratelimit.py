"""Fixed-window rate limits: ``limit(key, per_minute)`` raises TooManyRequests past the limit.

Counters live in Redis when REDIS_URL is set (shared by every worker), else in this process.
"""

from __future__ import annotations

import threading
import time

from flask import current_app, has_request_context
from flask_babel import gettext as _

from kernel.errors import TooManyRequests

_lock = threading.Lock()
_counts: dict[tuple[str, int], int] = {}


def hit(key: str, per_minute: int) -> bool:
    """Count one request for ``key`` in the current minute; False when the limit is exceeded."""
    window = int(time.time() // 60)
    url = current_app.config.get("REDIS_URL")
    if url:
        from redis import Redis

        redis = current_app.extensions.get("aufsicht.ratelimit.redis")
        if redis is None:
            # A Redis that is gone fails the request in seconds (a 503) instead of holding its thread.
            redis = current_app.extensions["aufsicht.ratelimit.redis"] = Redis.from_url(
                url, socket_connect_timeout=5, socket_timeout=5)
        name = f"aufsicht:rl:{key}:{window}"
        pipe = redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, 120)
        count = int(pipe.execute()[0])
    else:
        with _lock:
            for old in [k for k in _counts if k[1] < window]:
                del _counts[old]
            count = _counts[(key, window)] = _counts.get((key, window), 0) + 1
    return count <= per_minute


def limit(key: str, per_minute: int) -> None:
    """Raise TooManyRequests when ``key`` has been used more than ``per_minute`` times this minute."""
    if not hit(key, per_minute):
        if has_request_context():
            raise TooManyRequests(_("Too many requests. Please wait a minute and try again."))
        raise TooManyRequests("Too many requests. Please wait a minute and try again.")


def reset() -> None:
    """Forget the in-process counters (tests)."""
    with _lock:
        _counts.clear()
