"""Background jobs of the exams domain."""

from __future__ import annotations

import datetime as dt

from exams import mails
from exams.attempts import close_expired_attempts
from exams.models import Certificate
from kernel.clock import utcnow
from kernel.db import db
from kernel.jobs import exclusive, job


@job("exams.close_expired_attempts", every=dt.timedelta(minutes=1))
def close_expired_attempts_job() -> int:
    """Submit attempts whose deadline passed while the candidate's browser was gone."""
    return close_expired_attempts(utcnow())


@job("exams.send_certificate")
def send_certificate_job(certificate_id: int) -> str | None:
    """Email one certificate to its holder, once (SMTP errors make the job fail; sent_at stays unset).

    Queued more than once (the unsent retry, an at-least-once queue), it sends one email: a run beside
    another does nothing, a run after it finds sent_at set.
    """
    from exams.mailer import send_certificate

    with exclusive(f"exams.send_certificate:{certificate_id}") as mine:
        cert = db.session.get(Certificate, certificate_id) if mine else None
        if cert is None:
            return None
        try:
            if cert.sent_at is None:
                send_certificate(cert)
            return cert.public_id if cert.sent_at else None
        finally:
            db.session.remove()


@job("exams.send_appeal_decision")
def send_appeal_decision_job(appeal_id: int) -> str | None:
    """Email one appeal decision to the candidate, once."""
    from exams.mailer import send_appeal_decision
    from exams.models import Appeal, AttemptEvent

    with exclusive(f"exams.send_appeal_decision:{appeal_id}") as mine:
        appeal = db.session.get(Appeal, appeal_id) if mine else None
        if appeal is None or appeal.decided_at is None:
            return None
        try:
            from sqlalchemy import select

            sent = db.session.scalars(select(AttemptEvent).where(
                AttemptEvent.attempt_id == appeal.attempt_id, AttemptEvent.kind == "appeal_decision_sent")).all()
            if any(e.detail.get("appeal_id") == appeal_id for e in sent):
                return None
            return send_appeal_decision(appeal)
        finally:
            db.session.remove()


@job("exams.send_unsent_certificates", every=dt.timedelta(minutes=15))
def send_unsent_certificates_job() -> int:
    """Send certificates whose appeal window has ended: when it closes (the default), after the holder asked for
    it sooner, or again after a failed email (SMTP down). Queues every such unsent, unrevoked one."""
    from sqlalchemy import select

    from exams import trust
    from exams.models import Attempt
    from kernel.jobs import runner

    now = utcnow()
    rows = db.session.execute(
        select(Certificate.id, Attempt).join(Attempt, Attempt.id == Certificate.attempt_id)
        .where(Certificate.sent_at.is_(None), Certificate.revoked_at.is_(None),
               Attempt.result_released_at.is_not(None))
        .order_by(Certificate.id).limit(5000)
    ).all()
    windows = trust.appeal_windows([attempt for _, attempt in rows])
    due = [cid for cid, attempt in rows if attempt.id in windows and windows[attempt.id].closes_at <= now]
    for certificate_id in due[:500]:
        runner().enqueue("exams.send_certificate", certificate_id=certificate_id)
    return len(due[:500])


@job("exams.send_reminders", every=dt.timedelta(minutes=15))
def send_reminders_job() -> int:
    """Queue the reminder mail of every enrolment whose session starts within the next day (once each)."""
    return mails.queue_reminders(utcnow())
