"""Background jobs of the identity check."""

from __future__ import annotations

from app.clock import utcnow
from app.jobs import job
from idcheck.verification import run_check


@job("idcheck.verify")
def verify_job(check_id: int) -> str:
    """Quality, liveness and face match of one check; returns its new status."""
    return run_check(check_id, utcnow()).status.value
