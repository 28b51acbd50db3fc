"""Manual grading of free-text answers and release of results, by the staff of the exam's institution."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import Role, User
from exams.attempts import exam_spec, record_event, regrade_attempt
from exams.models import Answer, Attempt, AttemptStatus, Exam
from exams.questions import QuestionKind
from kernel.db import db
from kernel.errors import Conflict, NotFound, ValidationFailed

ENDED = (AttemptStatus.SUBMITTED, AttemptStatus.TERMINATED)


@dataclasses.dataclass(frozen=True)
class ManualItem:
    """One free-text question of an attempt as the grader sees it."""

    question_id: str
    prompt: str
    max_points: int
    answer: str | None
    points: int | None


def get_attempt_for_staff(staff: User, attempt_id: int) -> Attempt:
    """An ended attempt of the staff member's institution; anything else is NotFound."""
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.status not in ENDED:
        raise NotFound()
    if staff.role != Role.ADMIN and attempt.exam.institution_id != staff.institution_id:
        raise NotFound()
    return attempt


def grading_queue(staff: User) -> Sequence[Attempt]:
    """Ended attempts of the institution still waiting for manual points, oldest first."""
    q = (select(Attempt).join(Exam).where(Attempt.status.in_(ENDED), Attempt.pending_manual.is_(True))
         .order_by(Attempt.ended_at, Attempt.id))
    if staff.role != Role.ADMIN:
        q = q.where(Exam.institution_id == staff.institution_id)
    return db.session.scalars(q).all()


def releasable(staff: User, exam: Exam) -> Sequence[Attempt]:
    """Ended attempts of ``exam`` (already access-checked) that are fully graded but not released."""
    return db.session.scalars(
        select(Attempt).where(Attempt.exam_id == exam.id, Attempt.status.in_(ENDED),
                              Attempt.pending_manual.is_(False), Attempt.result_released_at.is_(None))
        .order_by(Attempt.id)
    ).all()


def manual_items(attempt: Attempt) -> list[ManualItem]:
    """The attempt's free-text questions with the candidate's answers and any points given."""
    spec = exam_spec(attempt.exam)
    rows = {a.question_id: a for a in db.session.scalars(select(Answer).where(Answer.attempt_id == attempt.id))}
    items = []
    for q in spec.questions:
        if q.kind is QuestionKind.FREE_TEXT:
            row = rows.get(q.id)
            items.append(ManualItem(q.id, q.prompt, q.points, row.value if row else None,
                                    row.manual_points if row else None))
    return items


def give_points(attempt: Attempt, grader: User, question_id: str, points: int, now: dt.datetime) -> Attempt:
    """Store manual points (0..max) for one free-text answer and regrade the attempt."""
    if attempt.result_released_at is not None:
        raise Conflict(_("The result has been released; points can no longer be changed."))
    question = exam_spec(attempt.exam).question(question_id)
    if question is None or question.kind is not QuestionKind.FREE_TEXT:
        raise NotFound(_("This exam has no such free-text question."))
    if not 0 <= points <= question.points:
        raise ValidationFailed(_("Points must be between 0 and %(n)d.", n=question.points),
                               fields={"points": "out of range"})
    row = db.session.scalar(select(Answer).where(Answer.attempt_id == attempt.id,
                                                 Answer.question_id == question_id))
    if row is None:  # unanswered: graded as an empty answer
        row = Answer(attempt_id=attempt.id, question_id=question_id, value=None, saved_at=now)
        db.session.add(row)
    row.manual_points = points
    db.session.flush()
    regrade_attempt(attempt)
    record_event(attempt, "graded", now, actor=grader, question_id=question_id, points=points)
    db.session.commit()
    return attempt


def release_result(attempt: Attempt, staff: User, now: dt.datetime) -> Attempt:
    """Release a fully graded result to the candidate; a pass gets its certificate (idempotent)."""
    from exams.certificates import issue_certificate

    if attempt.pending_manual:
        raise Conflict(_("Some answers still need points before the result can be released."))
    if attempt.result_released_at is None:
        attempt.result_released_at = now
        record_event(attempt, "result_released", now, actor=staff)
        db.session.commit()
    if attempt.passed:
        issue_certificate(attempt, now)
    return attempt


def release_all(staff: User, exam: Exam, now: dt.datetime) -> int:
    """Release every fully graded, unreleased result of the exam; returns how many."""
    attempts = releasable(staff, exam)
    for attempt in attempts:
        release_result(attempt, staff, now)
    return len(attempts)


def exam_attempts(exam: Exam) -> Sequence[Attempt]:
    """Every attempt of ``exam`` (already access-checked), newest first."""
    return db.session.scalars(select(Attempt).where(Attempt.exam_id == exam.id).order_by(Attempt.id.desc())).all()
