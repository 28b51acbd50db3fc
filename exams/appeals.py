"""Appeals against released results: filed by the candidate within the appeal window, decided by staff.

The window is ``exams.trust.appeal_window`` (the one the purge and the certificate job read too).

For storage retention: an attempt with an open appeal must keep its recordings. Ask
:func:`attempts_with_open_appeal` with the attempt ids you are about to purge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import Role, User
from exams.attempts import record_event
from exams.models import Appeal, AppealStatus, Attempt, Exam
from exams.trust import appeal_window
from kernel.db import db
from kernel.errors import Conflict, NotFound, ValidationFailed

MAX_APPEAL_TEXT = 10_000


def attempts_with_open_appeal(attempt_ids: Iterable[int]) -> set[int]:
    """The ids among ``attempt_ids`` that have an open (undecided) appeal."""
    ids = list(attempt_ids)
    if not ids:
        return set()
    found: set[int] = set()
    for start in range(0, len(ids), 500):
        found.update(db.session.scalars(
            select(Appeal.attempt_id).where(Appeal.attempt_id.in_(ids[start:start + 500]),
                                            Appeal.status == AppealStatus.OPEN)
        ))
    return found


def appeals_of(attempt: Attempt) -> Sequence[Appeal]:
    """The attempt's appeals, newest first."""
    return db.session.scalars(
        select(Appeal).where(Appeal.attempt_id == attempt.id).order_by(Appeal.filed_at.desc(), Appeal.id.desc())
    ).all()


def appeal_open(attempt: Attempt, now: dt.datetime) -> bool:
    """True when the candidate may file an appeal now (released, within ``trust.appeal_window``, none open)."""
    window = appeal_window(attempt)
    if window is None or not window.is_open(now):
        return False
    return not attempts_with_open_appeal([attempt.id])


def file_appeal(attempt: Attempt, text: str, now: dt.datetime) -> Appeal:
    """File the candidate's appeal against the released result of ``attempt`` (owner already checked)."""
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(_("Please explain your appeal."), fields={"text": "missing"})
    if len(text) > MAX_APPEAL_TEXT:
        raise ValidationFailed(_("Appeals are limited to %(n)d characters.", n=MAX_APPEAL_TEXT),
                               fields={"text": "too long"})
    if attempt.result_released_at is None:
        raise Conflict(_("You can appeal once your result has been released."))
    window = appeal_window(attempt)
    if window is None or not window.is_open(now):
        raise Conflict(_("The appeal period for this result has ended."))
    if attempts_with_open_appeal([attempt.id]):
        raise Conflict(_("You already have an open appeal for this result."))
    appeal = Appeal(attempt_id=attempt.id, filed_at=now, text=text, status=AppealStatus.OPEN)
    db.session.add(appeal)
    db.session.flush()
    record_event(attempt, "appeal_filed", now, actor=attempt.user, appeal_id=appeal.id)
    from accounts.notices import queue

    queue(attempt.user, "appeal_received", f"appeal_received:{appeal.id}", appeal_id=appeal.id)
    db.session.commit()
    return appeal


def open_appeals(staff: User) -> Sequence[Appeal]:
    """Open appeals of the staff member's institution, oldest first."""
    q = (select(Appeal).join(Attempt).join(Exam).where(Appeal.status == AppealStatus.OPEN)
         .order_by(Appeal.filed_at, Appeal.id))
    if staff.role != Role.ADMIN:
        q = q.where(Exam.institution_id == staff.institution_id)
    return db.session.scalars(q).all()


def get_appeal_for_staff(staff: User, appeal_id: int) -> Appeal:
    """An appeal of the staff member's institution; otherwise NotFound."""
    appeal = db.session.get(Appeal, appeal_id)
    if appeal is None or (staff.role != Role.ADMIN and appeal.attempt.exam.institution_id != staff.institution_id):
        raise NotFound()
    return appeal


def decide_appeal(appeal: Appeal, staff: User, outcome: str, reason: str, now: dt.datetime) -> Appeal:
    """Uphold or reject an open appeal with a reason the candidate will read."""
    try:
        status = AppealStatus(outcome)
    except ValueError:
        status = AppealStatus.OPEN
    if status == AppealStatus.OPEN:
        raise ValidationFailed(_("Choose whether the appeal is upheld or rejected."), fields={"outcome": "invalid"})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("A decision needs a reason."), fields={"reason": "missing"})
    if len(reason) > MAX_APPEAL_TEXT:
        raise ValidationFailed(_("Reasons are limited to %(n)d characters.", n=MAX_APPEAL_TEXT),
                               fields={"reason": "too long"})
    if appeal.status != AppealStatus.OPEN:
        raise Conflict(_("This appeal has already been decided."))
    appeal.status = status
    appeal.decided_at = now
    appeal.decided_by_id = staff.id
    appeal.decision_reason = reason
    record_event(appeal.attempt, "appeal_decided", now, actor=staff, appeal_id=appeal.id, outcome=status.value)
    if status == AppealStatus.UPHELD:  # the result is graded again and released anew (exams.trust REOPEN)
        from exams.grading import reopen_grading

        reopen_grading(appeal.attempt, staff, now, appeal_id=appeal.id)
    db.session.commit()
    from kernel.jobs import enqueue_pending

    # The candidate reads the decision on their page at once; the email follows from the job runner.
    enqueue_pending("exams.send_appeal_decision", appeal_id=appeal.id)
    return appeal


def decided_appeals_of(candidate: User) -> Sequence[Appeal]:
    """The candidate's decided appeals, newest first (shown on their home page)."""
    return db.session.scalars(
        select(Appeal).join(Attempt).where(Attempt.user_id == candidate.id, Appeal.status != AppealStatus.OPEN)
        .order_by(Appeal.decided_at.desc(), Appeal.id.desc())
    ).all()
