"""Background jobs of the accounts domain."""

from __future__ import annotations

import datetime as dt

from flask import current_app

from accounts.services import purge_login_events
from app.clock import utcnow
from app.jobs import job


@job("accounts.purge_login_events", every=dt.timedelta(hours=1))
def purge_login_events_job() -> int:
    """Delete login audit entries past their retention (7 days by default)."""
    days = int(current_app.config["LOGIN_AUDIT_RETENTION_DAYS"])
    return purge_login_events(utcnow(), dt.timedelta(days=days))
