"""Background jobs of the privacy domain (the export builder registers itself in privacy.export)."""

from __future__ import annotations

import datetime as dt
import logging

from flask import current_app
from sqlalchemy import select

from accounts.models import Role, User
from kernel.clock import utcnow
from kernel.db import db
from kernel.jobs import job
from privacy.erasure import erase_account, expire_kept
from privacy.export import requeue_stalled_exports  # the import registers privacy.build_export too
from privacy.retention import purge_aged_rows

log = logging.getLogger(__name__)


@job("privacy.purge_aged_rows", every=dt.timedelta(hours=1))
def purge_aged_rows_job() -> dict[str, int]:
    """Rows past the age the inventory gives them (access log, exports); kept rows of erased accounts."""
    now = utcnow()
    counts = purge_aged_rows(now, tables=("access_log", "data_export"))
    counts["expired_kept"] = expire_kept(now)
    from exams.mailer import purge_outbox

    counts["outbox"] = purge_outbox(now)
    return counts


@job("privacy.requeue_stalled_exports", every=dt.timedelta(minutes=1))
def requeue_stalled_exports_job() -> int:
    """Queue again the data exports whose job was lost (queue down when asked for, worker died)."""
    return requeue_stalled_exports(utcnow())


@job("privacy.inactive_accounts", every=dt.timedelta(days=1))
def inactive_accounts_job() -> dict[str, int]:
    """Candidates without login for INACTIVE_ACCOUNT_DAYS: a notice first, erasure INACTIVITY_NOTICE_DAYS later."""
    return handle_inactive_accounts(utcnow())


def handle_inactive_accounts(now: dt.datetime) -> dict[str, int]:
    """Send the notice to accounts about to expire; erase those noticed long enough ago and still inactive."""
    from exams.mailer import deliver, plain_message

    cfg = current_app.config
    limit = dt.timedelta(days=int(cfg["INACTIVE_ACCOUNT_DAYS"]))
    notice = dt.timedelta(days=int(cfg["INACTIVITY_NOTICE_DAYS"]))
    seen = User.last_active_at.is_(None) & (User.created_at < now - limit + notice) | (
        User.last_active_at < now - limit + notice)
    noticed = erased = 0
    candidates = select(User).where(User.role == Role.CANDIDATE, User.erased_at.is_(None), seen)
    for user in db.session.scalars(candidates).all():
        if user.inactivity_notice_at is None:
            deliver(plain_message(user.email, "Ihr Konto bei aufsicht / Your aufsicht account",
                                  "Sie haben sich lange nicht angemeldet. Melden Sie sich an, sonst löschen wir Ihr "
                                  f"Konto in {notice.days} Tagen.\n\nYou have not logged in for a long time. Log "
                                  f"in, or we delete your account in {notice.days} days."))
            user.inactivity_notice_at = now
            db.session.commit()
            noticed += 1
        elif user.inactivity_notice_at <= now - notice:
            erase_account(user, now)
            erased += 1
    log.info("inactive accounts: %d noticed, %d erased", noticed, erased)
    return {"noticed": noticed, "erased": erased}
