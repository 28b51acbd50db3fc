"""What the institution API answers and does, apart from HTTP: exams, results and the roster as JSON values, and
enrolment through the roster domain (``exams.rosters``, the same rules as the roster page)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _

from accounts.services import account_by_email
from exams import rosters
from exams.models import Enrolment, Exam
from kernel.errors import NotFound, ValidationFailed


def _utc(value: dt.datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"


def exam_json(exam: Exam) -> dict[str, Any]:
    """One exam as the API lists it."""
    return {"id": exam.id, "title": exam.title, "opens_at": _utc(exam.opens_at), "closes_at": _utc(exam.closes_at)}


def enrolment_json(enrolment: Enrolment) -> dict[str, Any]:
    """One place on an exam's roster."""
    session = enrolment.session
    return {"id": enrolment.id, "email": enrolment.user.email, "name": enrolment.user.display_name,
            "session": None if session is None else {"id": session.id, "starts_at": _utc(session.starts_at),
                                                     "ends_at": _utc(session.ends_at)},
            "attempts_allowed": enrolment.attempts_allowed, "enrolled_at": _utc(enrolment.enrolled_at)}


def roster_json(exam: Exam) -> dict[str, Any]:
    """The exam's roster."""
    return {"exam_id": exam.id, "enrolments": [enrolment_json(e) for e in rosters.roster(exam)]}


def enrol_by_email(exam: Exam, body: Any) -> Enrolment:
    """Enrol the candidate of the exam's institution with ``body["email"]`` (in ``body["session_id"]``, if given)."""
    if not isinstance(body, dict) or not isinstance(body.get("email"), str) or not body["email"].strip():
        raise ValidationFailed(_("Send the candidate's email address as JSON: {\"email\": ...}."),
                               fields={"email": "missing"})
    session_id = body.get("session_id")
    if session_id is not None and (isinstance(session_id, bool) or not isinstance(session_id, int)
                                   or not 0 <= session_id < 2**31):
        raise ValidationFailed(_("The session is given by its number."), fields={"session_id": "not a number"})
    candidate = account_by_email(body["email"][:320], institution_id=exam.institution_id)
    if candidate is None:
        raise NotFound(_("No candidate of this institution has this address."))
    session = rosters.get_session(exam, session_id) if session_id is not None else None
    return rosters.enrol(exam, candidate, session)
