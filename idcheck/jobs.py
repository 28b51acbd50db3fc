"""Background jobs of the identity check."""

from __future__ import annotations

import datetime as dt

from idcheck import mails  # noqa: F401  (registers the identity mail)
from idcheck.verification import requeue_stalled, run_check
from kernel.clock import utcnow
from kernel.jobs import exclusive, job


@job("idcheck.verify")
def verify_job(check_id: int) -> str | None:
    """Quality, liveness and face match of one check; returns its status (None: gone, or another run has it)."""
    with exclusive(f"idcheck.verify:{check_id}") as mine:
        if not mine:  # a duplicate of a run under way (at-least-once queue): that run decides
            return None
        check = run_check(check_id, utcnow())
        return None if check is None else check.status.value


@job("idcheck.requeue_stalled", every=dt.timedelta(minutes=1))
def requeue_stalled_job() -> int:
    """Queue again the checks whose job was lost (queue down at upload, worker died)."""
    return requeue_stalled(utcnow())
