"""Background jobs of the accounts domain."""

from __future__ import annotations

import datetime as dt

from accounts import recovery  # noqa: F401  (registers the account mails)
from kernel.clock import utcnow
from kernel.jobs import job


@job("accounts.purge_login_events", every=dt.timedelta(hours=1))
def purge_login_events_job() -> int:
    """Delete login audit entries past their retention (LOGIN_AUDIT_RETENTION_DAYS, as the inventory says)."""
    from privacy.retention import purge_aged_rows

    return purge_aged_rows(utcnow(), ("login_event",))["login_event"]


@job("accounts.send_notice")
def send_notice_job(notice_id: int) -> str | None:
    """Mail one queued notice (enrolment, reminder, result, appeal, identity, account links), once."""
    from accounts.notices import send_notice
    from kernel.db import db

    try:
        return send_notice(notice_id)
    finally:
        db.session.remove()


@job("accounts.send_pending_notices", every=dt.timedelta(minutes=5))
def send_pending_notices_job() -> int:
    """Queue again the notices whose job was lost or whose mail server was down."""
    from accounts.notices import send_pending_notices

    return send_pending_notices(utcnow())


@job("accounts.purge_expired_link_mails", every=dt.timedelta(minutes=5))
def purge_expired_link_mails_job() -> int:
    """Delete outbox mails (no SMTP) whose reset, email-change or confirmation link has expired."""
    from exams.mailer import purge_expired_links

    return purge_expired_links(utcnow())
