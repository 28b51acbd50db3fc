"""Background jobs of the exams domain."""

from __future__ import annotations

import datetime as dt

from app.clock import utcnow
from app.jobs import job
from exams.attempts import close_expired_attempts


@job("exams.close_expired_attempts", every=dt.timedelta(minutes=1))
def close_expired_attempts_job() -> int:
    """Submit attempts whose deadline passed while the candidate's browser was gone."""
    return close_expired_attempts(utcnow())
