"""The same jobs on the Redis-backed queue, against the real Redis server."""

from __future__ import annotations

import datetime as dt
import os
import secrets

import pytest
from sqlalchemy import func, select

from accounts.models import LoginEvent
from kernel.clock import clock
from kernel.db import db
from kernel.jobs import RedisRunner
from tests.conftest import need_service

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_runner(app):
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except RedisConnectionError as err:
        need_service("Redis", str(err))
    r = RedisRunner(REDIS_URL, f"test-{secrets.token_hex(4)}")
    yield r
    r.queue.empty()
    r.queue.delete(delete_jobs=True)


def test_job_runs_on_redis_queue_worker(app, redis_runner):
    from rq import SimpleWorker

    now = clock.now()
    db.session.add(LoginEvent(email="x@example.org", ip="::1", success=False, at=now - dt.timedelta(days=8)))
    db.session.add(LoginEvent(email="x@example.org", ip="::1", success=False, at=now))
    db.session.commit()
    job_id = redis_runner.enqueue("accounts.purge_login_events")
    assert redis_runner.status(job_id) == "queued"
    SimpleWorker([redis_runner.queue], connection=redis_runner.redis).work(burst=True)
    assert redis_runner.status(job_id) == "finished"
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(LoginEvent)) == 1


def test_periodic_job_fires_once_per_period_across_workers(app, redis_runner):
    now = dt.datetime(2026, 11, 22, 12, 0, 0)
    first = redis_runner.fire_due(now)
    second = RedisRunner(REDIS_URL, redis_runner.queue.name).fire_due(now + dt.timedelta(seconds=5))
    assert "accounts.purge_login_events" in first
    assert "accounts.purge_login_events" not in second
    assert redis_runner.queue.count == len(first)


def test_unknown_job_is_refused(redis_runner):
    with pytest.raises(KeyError):
        redis_runner.enqueue("no.such.job")


def test_worker_outlives_a_redis_that_is_down():
    """`flask jobs worker` does not exit when Redis is down: it starts a new RQ worker after a pause."""
    runner = RedisRunner("redis://127.0.0.1:9/0", "nowhere")  # nothing listens on port 9
    pauses = []

    class Stop:
        def wait(self, seconds):
            pauses.append(seconds)
            return len(pauses) == 3  # stopped during the third pause

    runner._stop = Stop()
    runner.work()
    assert pauses == [1.0, 2.0, 4.0]
