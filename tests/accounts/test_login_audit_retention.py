"""Login audit entries are kept 7 days and purged by the job runner."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from accounts.models import LoginEvent
from kernel.clock import clock
from kernel.db import db
from kernel.jobs import InProcessRunner


def _events(now: dt.datetime) -> None:
    for age_days in (0, 6.9, 7.1, 30):
        db.session.add(LoginEvent(email="a@example.org", ip="127.0.0.1", success=True,
                                  at=now - dt.timedelta(days=age_days)))
    db.session.commit()


def test_purge_keeps_seven_days_via_in_process_runner(app):
    now = clock.now()
    _events(now)
    runner = InProcessRunner(app)
    try:
        purged = runner.wait(runner.enqueue("accounts.purge_login_events"))
    finally:
        runner.stop()
    assert purged == 2
    ages = sorted((now - e.at).days for e in db.session.scalars(select(LoginEvent)))
    assert ages == [0, 6]
    # idempotent
    runner2 = InProcessRunner(app)
    try:
        assert runner2.wait(runner2.enqueue("accounts.purge_login_events")) == 0
    finally:
        runner2.stop()


def test_scheduler_fires_the_purge_by_itself(app):
    now = clock.now()
    _events(now)
    runner = InProcessRunner(app, tick=0.05)
    runner.start()
    try:
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            db.session.rollback()
            if db.session.scalar(select(func.count()).select_from(LoginEvent)) == 2:
                break
            time.sleep(0.05)
    finally:
        runner.stop()
    assert db.session.scalar(select(func.count()).select_from(LoginEvent)) == 2
