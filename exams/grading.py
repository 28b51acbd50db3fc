"""Manual grading of free-text answers and release of results, by the staff of the exam's institution."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import Role, User
from exams import trust
from exams.attempts import attempt_spec, record_event, regrade_attempt
from exams.itemtypes import Criterion, word_count
from exams.models import Answer, Attempt, AttemptStatus, Exam
from exams.questions import WRITTEN_MANUAL_KINDS, QuestionKind
from kernel.db import db
from kernel.errors import Conflict, NotFound, ValidationFailed

ENDED = (AttemptStatus.SUBMITTED, AttemptStatus.TERMINATED)


@dataclasses.dataclass(frozen=True)
class ManualItem:
    """One item graded by hand (free text, essay, upload) of an attempt as the grader sees it."""

    question_id: str
    prompt: str
    max_points: int
    answer: Any
    points: int | None
    kind: str = "free_text"
    note: str | None = None
    rubric: tuple[Criterion, ...] = ()
    levels: dict[str, str] = dataclasses.field(default_factory=dict)  # criterion id -> chosen level id
    words: int | None = None  # essay: the words counted
    min_words: int | None = None
    max_words: int | None = None


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
    """Unreleased results of ``exam`` (already access-checked) the chain of trust lets go now."""
    return [a for a in unreleased(exam) if not trust.holds(a, trust.Action.RELEASE)]


def manual_items(attempt: Attempt) -> list[ManualItem]:
    """The attempt's free-text questions with the candidate's answers and any points given."""
    spec = attempt_spec(attempt)
    rows = {a.question_id: a for a in db.session.scalars(select(Answer).where(Answer.attempt_id == attempt.id))}
    items = []
    for q in spec.questions:
        if q.kind in WRITTEN_MANUAL_KINDS:
            row = rows.get(q.id)
            value = row.value if row else None
            items.append(ManualItem(q.id, q.prompt, q.points, value, row.manual_points if row else None,
                                    q.kind.value, row.manual_note if row else None, q.rubric,
                                    dict(row.rubric_levels or {}) if row else {},
                                    word_count(value) if q.kind is QuestionKind.ESSAY and isinstance(value, str)
                                    else None, q.min_words, q.max_words))
    return items


@dataclasses.dataclass(frozen=True)
class OralItem:
    """One oral item of an attempt as the examiner grades it (with the recording at hand)."""

    question_id: str
    prompt: str
    max_points: int
    points: int | None
    note: str | None


def oral_items(attempt: Attempt) -> list[OralItem]:
    """The attempt's oral items with the points and notes given so far."""
    spec = attempt_spec(attempt)
    rows = {a.question_id: a for a in db.session.scalars(select(Answer).where(Answer.attempt_id == attempt.id))}
    return [OralItem(q.id, q.prompt, q.points, rows[q.id].manual_points if q.id in rows else None,
                     rows[q.id].manual_note if q.id in rows else None)
            for q in spec.questions if q.kind is QuestionKind.ORAL]


def grade_oral(attempt: Attempt, examiner: User, question_id: str, points: int, note: str,
               now: dt.datetime) -> Attempt:
    """The examiner's points (0..max) and note for one oral item of an ended attempt; the attempt is regraded.

    The caller checks that ``examiner`` supervises the exam (an assigned proctor or its staff)."""
    if attempt.status not in ENDED:
        raise Conflict(_("The oral exam is still going on; grade it once it has ended."))
    if attempt.result_released_at is not None:
        raise Conflict(_("The result has been released; points can no longer be changed."))
    question = attempt_spec(attempt).question(question_id)
    if question is None or question.kind is not QuestionKind.ORAL:
        raise NotFound(_("This exam has no such oral item."))
    if not 0 <= points <= question.points:
        raise ValidationFailed(_("Points must be between 0 and %(n)d.", n=question.points),
                               fields={"points": "out of range"})
    note = note.strip()
    if len(note) > 4000:
        raise ValidationFailed(_("The note is limited to %(n)d characters.", n=4000), fields={"note": "too long"})
    row = db.session.scalar(select(Answer).where(Answer.attempt_id == attempt.id,
                                                 Answer.question_id == question_id))
    if row is None:
        row = Answer(attempt_id=attempt.id, question_id=question_id, value=None, saved_at=now)
        db.session.add(row)
    row.manual_points, row.manual_note = points, note or None
    db.session.flush()
    regrade_attempt(attempt)
    record_event(attempt, "oral_graded", now, actor=examiner, question_id=question_id, points=points)
    db.session.commit()
    return attempt


def give_points(attempt: Attempt, grader: User, question_id: str, points: int | None, now: dt.datetime, *,
                levels: dict[str, str] | None = None, note: str | None = None) -> Attempt:
    """Store manual points (0..max) for one free-text, essay or upload answer and regrade the attempt.

    An essay with a rubric takes ``levels`` (a level id per criterion) instead; its points are their sum. The
    grader's ``note`` (why these points) is kept for the appeal."""
    if attempt.result_released_at is not None:
        raise Conflict(_("The result has been released; points can no longer be changed."))
    question = attempt_spec(attempt).question(question_id)
    if question is None or question.kind not in WRITTEN_MANUAL_KINDS:
        raise NotFound(_("This exam has no such free-text question."))
    chosen: dict[str, str] | None = None
    if question.rubric:
        chosen = {}
        points = 0
        for criterion in question.rubric:
            level = next((lv for lv in criterion.levels if lv.id == (levels or {}).get(criterion.id)), None)
            if level is None:
                raise ValidationFailed(_("Choose a level for %(name)s.", name=criterion.name),
                                       fields={f"level-{criterion.id}": "missing"})
            chosen[criterion.id] = level.id
            points += level.points
    if points is None:
        raise ValidationFailed(_("Enter the points as a whole number."), fields={"points": "not a number"})
    if not 0 <= points <= question.points:
        raise ValidationFailed(_("Points must be between 0 and %(n)d.", n=question.points),
                               fields={"points": "out of range"})
    if note is not None and len(note.strip()) > 4000:
        raise ValidationFailed(_("The note is limited to %(n)d characters.", n=4000), fields={"note": "too long"})
    row = db.session.scalar(select(Answer).where(Answer.attempt_id == attempt.id,
                                                 Answer.question_id == question_id))
    if row is None:  # unanswered: graded as an empty answer
        row = Answer(attempt_id=attempt.id, question_id=question_id, value=None, saved_at=now)
        db.session.add(row)
    row.manual_points = points
    if chosen is not None:
        row.rubric_levels = chosen
    if note is not None:
        row.manual_note = note.strip() or None
    db.session.flush()
    regrade_attempt(attempt)
    record_event(attempt, "graded", now, actor=grader, question_id=question_id, points=points)
    db.session.commit()
    return attempt


def release_result(attempt: Attempt, staff: User | None, now: dt.datetime) -> Attempt:
    """Release a result the chain of trust lets go; a pass gets its certificate (idempotent).

    A result re-released after an upheld appeal revokes a certificate whose result changed ("reissued after
    appeal") and issues a new one. A held result raises :class:`exams.trust.ResultHeld` with the reasons.
    """
    from exams.certificates import issue_certificate, reissue_certificate, score_text

    trust.require(attempt, trust.Action.RELEASE)
    if attempt.result_released_at is None:
        from exams.mails import queue_result_released

        attempt.result_released_at = now
        record_event(attempt, "result_released", now, actor=staff)
        queue_result_released(attempt)
        db.session.commit()
    cert = trust.live_certificate(attempt)
    if cert is not None and trust.certificate_outdated(cert, attempt, score_text(attempt)):
        reissue_certificate(cert, trust.REISSUED_AFTER_APPEAL, now)
    elif attempt.passed:
        issue_certificate(attempt, now)
    return attempt


@dataclasses.dataclass
class ReleaseReport:
    """What "Release all" did: the results released, and those held with the reasons."""

    released: list[Attempt] = dataclasses.field(default_factory=list)
    held: list[tuple[Attempt, list[trust.Hold]]] = dataclasses.field(default_factory=list)


def unreleased(exam: Exam) -> Sequence[Attempt]:
    """Ended attempts of ``exam`` (already access-checked) whose result is not released."""
    return db.session.scalars(
        select(Attempt).where(Attempt.exam_id == exam.id, Attempt.status.in_(ENDED),
                              Attempt.result_released_at.is_(None)).order_by(Attempt.id)
    ).all()


def held_results(exam: Exam) -> list[tuple[Attempt, list[trust.Hold]]]:
    """Unreleased results of ``exam`` the chain of trust holds, each with its reasons."""
    return [(a, found) for a in unreleased(exam) if (found := trust.holds(a, trust.Action.RELEASE))]


def held_for(staff: User) -> list[tuple[Attempt, list[trust.Hold]]]:
    """Held results across the staff member's institution (for the home page count)."""
    q = (select(Attempt).join(Exam).where(Attempt.status.in_(ENDED), Attempt.result_released_at.is_(None))
         .order_by(Attempt.exam_id, Attempt.id))
    if staff.role != Role.ADMIN:
        q = q.where(Exam.institution_id == staff.institution_id)
    return [(a, found) for a in db.session.scalars(q).all() if (found := trust.holds(a, trust.Action.RELEASE))]


def release_all(staff: User | None, exam: Exam, now: dt.datetime) -> ReleaseReport:
    """Release every result of the exam the chain of trust lets go; the rest is listed as held, with why."""
    report = ReleaseReport()
    for attempt in unreleased(exam):
        found = trust.holds(attempt, trust.Action.RELEASE)
        if found:
            report.held.append((attempt, found))
            continue
        release_result(attempt, staff, now)
        report.released.append(attempt)
    return report


def reopen_grading(attempt: Attempt, staff: User, now: dt.datetime, appeal_id: int | None = None) -> Attempt:
    """After an upheld appeal: withdraw the release so points can be changed and the result released anew."""
    trust.require(attempt, trust.Action.REOPEN)
    attempt.result_released_at = None
    record_event(attempt, "grading_reopened", now, actor=staff, appeal_id=appeal_id)
    return attempt


def exam_attempts(exam: Exam) -> Sequence[Attempt]:
    """Every attempt of ``exam`` (already access-checked), newest first."""
    return db.session.scalars(select(Attempt).where(Attempt.exam_id == exam.id).order_by(Attempt.id.desc())).all()
