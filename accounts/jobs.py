"""Background jobs of the accounts domain."""

from __future__ import annotations

import datetime as dt

from kernel.clock import utcnow
from kernel.jobs import job


@job("accounts.purge_login_events", every=dt.timedelta(hours=1))
def purge_login_events_job() -> int:
    """Delete login audit entries past their retention (LOGIN_AUDIT_RETENTION_DAYS, as the inventory says)."""
    from privacy.retention import purge_aged_rows

    return purge_aged_rows(utcnow(), ("login_event",))["login_event"]
