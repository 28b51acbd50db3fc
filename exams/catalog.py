"""Which exams a user can see: staff their institution's, proctors those assigned, candidates those they are
enrolled in (``exams.rosters``; an exam without a roster is seen by no candidate)."""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import Role, User
from exams.models import Enrolment, Exam, exam_proctor
from kernel.db import db
from kernel.errors import NotFound


def exams_for(user: User) -> Sequence[Exam]:
    """The exams ``user`` may see, newest first."""
    q = select(Exam).order_by(Exam.opens_at.desc())
    if user.role == Role.ADMIN:
        return db.session.scalars(q).all()
    if user.role == Role.PROCTOR:
        q = q.join(exam_proctor).where(exam_proctor.c.user_id == user.id)
    if user.role == Role.CANDIDATE:
        q = q.join(Enrolment, Enrolment.exam_id == Exam.id).where(Enrolment.user_id == user.id)
    return db.session.scalars(q.where(Exam.institution_id == user.institution_id)).all()


def get_exam_for(user: User, exam_id: int) -> Exam:
    """One exam ``user`` may see; another tenant's or an unassigned exam is NotFound."""
    exam = db.session.get(Exam, exam_id)
    if exam is None or (user.role != Role.ADMIN and exam.institution_id != user.institution_id):
        raise NotFound()
    if user.role == Role.PROCTOR and user not in exam.proctors:
        raise NotFound()
    if user.role == Role.CANDIDATE and db.session.scalar(
            select(Enrolment.id).where(Enrolment.exam_id == exam.id, Enrolment.user_id == user.id)) is None:
        # a link to an exam of their own institution: say why (another institution's stays a plain "not found")
        raise NotFound(_("You are not enrolled in this exam, so it is not open to you. The exam office of "
                         "%(institution)s enrols candidates: please ask them if you should take it.",
                         institution=exam.institution.name), code="not_enrolled")
    return exam


def assign_proctor(exam: Exam, proctor: User) -> None:
    """Assign a proctor of the exam's institution to it."""
    if proctor.role != Role.PROCTOR or proctor.institution_id != exam.institution_id:
        raise NotFound()
    if proctor not in exam.proctors:
        exam.proctors.append(proctor)
    db.session.commit()
