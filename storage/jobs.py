"""Background jobs of the storage domain."""

from __future__ import annotations

import datetime as dt

from kernel.clock import utcnow
from kernel.jobs import job
from storage.retention import purge_expired


@job("storage.purge_expired", every=dt.timedelta(minutes=5))
def purge_expired_job() -> int:
    """Purge every blob past its retention rule (and finish interrupted purges)."""
    return purge_expired(utcnow()).shredded
