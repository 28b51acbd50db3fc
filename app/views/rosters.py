"""The exam office's roster of an exam: sessions with their proctors, enrolments one by one or from a CSV file."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from accounts.models import Role, User
from accounts.services import account_by_email, set_timezone
from app.access import role_required, user
from app.ids import id_arg
from exams import rosters
from exams.catalog import get_exam_for
from exams.models import DEFAULT_CAPACITY_PER_PROCTOR, Exam
from kernel.clock import from_local
from kernel.db import db
from kernel.errors import DomainError, NotFound, ValidationFailed

bp = Blueprint("rosters", __name__, url_prefix="/staff/exams")

CSV_EXAMPLE = ("email,date,start,end,proctor\n"
               "erika.mustermann@example.org,2026-12-24,09:00,11:00,proctor@example.org\n"
               "max.muster@example.org,24.12.2026,09:00,11:00,\n")


def _page(exam: Exam, *, problems: list[rosters.RosterProblem] | None = None, error: str | None = None,
          csv_text: str = "", status: int = 200) -> tuple[str, int]:
    me = user()
    proctors = db.session.scalars(select(User).where(
        User.role == Role.PROCTOR, User.institution_id == me.institution_id, User.active.is_(True))
        .order_by(User.display_name)).all()
    sessions = rosters.sessions_of(exam)
    entries = rosters.roster(exam)
    return render_template("staff/roster.html", exam=exam, sessions=sessions, loads={s.id: rosters.load(s)
                                                                                     for s in sessions},
                           entries=entries, taken={e.id: rosters.attempts_taken(e.user, exam) for e in entries},
                           proctors=proctors, problems=problems or [], error=error, csv_text=csv_text,
                           csv_example=CSV_EXAMPLE, default_capacity=DEFAULT_CAPACITY_PER_PROCTOR,
                           timezone=exam.institution.timezone), status


@bp.get("/<int:exam_id>/roster")
@role_required(Role.STAFF)
def roster(exam_id: int) -> tuple[str, int]:
    """Sessions, proctors and enrolled candidates of one exam."""
    return _page(get_exam_for(user(), exam_id))


def _local(field_date: str, field_time: str, tz: str) -> dt.datetime:
    try:
        local = dt.datetime.strptime(f"{field_date} {field_time}", "%Y-%m-%d %H:%M")
    except ValueError:
        raise ValidationFailed(_("Give the date and times like 2026-12-24 and 09:30."),
                               fields={"date": "invalid"}) from None
    return from_local(local, tz)


@bp.post("/<int:exam_id>/sessions")
@role_required(Role.STAFF)
def new_session(exam_id: int) -> Response | tuple[str, int]:
    """Add a session (date and time slot in the institution's time zone, candidates per proctor)."""
    exam = get_exam_for(user(), exam_id)
    tz = exam.institution.timezone
    try:
        rosters.create_session(exam, _local(request.form.get("date", ""), request.form.get("start", ""), tz),
                               _local(request.form.get("date", ""), request.form.get("end", ""), tz),
                               request.form.get("capacity", type=int) or DEFAULT_CAPACITY_PER_PROCTOR)
    except DomainError as err:
        return _page(exam, error=err.message, status=err.status)
    flash(_("Session added."))
    return redirect(url_for("rosters.roster", exam_id=exam_id))


@bp.post("/<int:exam_id>/sessions/<int:session_id>/proctors")
@role_required(Role.STAFF)
def add_proctor(exam_id: int, session_id: int) -> Response | tuple[str, int]:
    """Assign a proctor to a session; candidates without a proctor go to them up to the capacity."""
    exam = get_exam_for(user(), exam_id)
    session = rosters.get_session(exam, session_id)
    proctor = db.session.get(User, request.form.get("user_id", type=id_arg) or 0)
    if proctor is None:
        raise NotFound()
    given = rosters.add_session_proctor(session, proctor)
    flash(_("Proctor assigned; %(n)d candidate(s) given to them.", n=given))
    return redirect(url_for("rosters.roster", exam_id=exam_id))


@bp.post("/<int:exam_id>/roster")
@role_required(Role.STAFF)
def enrol_one(exam_id: int) -> Response | tuple[str, int]:
    """Enrol one registered candidate by email address, in the chosen session."""
    exam = get_exam_for(user(), exam_id)
    session_id = request.form.get("session_id", type=id_arg)
    try:
        session = rosters.get_session(exam, session_id) if session_id else None
        candidate = account_by_email(request.form.get("email", ""), exam.institution_id)
        if candidate is None:
            raise NotFound(_("No candidate of this institution has this address."))
        rosters.enrol(exam, candidate, session)
    except DomainError as err:
        return _page(exam, error=err.message, status=err.status)
    flash(_("%(name)s is enrolled; they are mailed the time and the system-check link.", name=candidate.display_name))
    return redirect(url_for("rosters.roster", exam_id=exam_id))


@bp.post("/<int:exam_id>/roster/import")
@role_required(Role.STAFF)
def import_csv(exam_id: int) -> Response | tuple[str, int]:
    """Enrol the candidates of a CSV file (uploaded or pasted); every problem is shown with its line."""
    exam = get_exam_for(user(), exam_id)
    upload = request.files.get("file")
    text = request.form.get("csv", "")
    if upload is not None and upload.filename:
        try:
            text = upload.read(2_000_000).decode("utf-8")
        except UnicodeDecodeError:
            return _page(exam, error=_("The file is not UTF-8 text."), status=400)
    try:
        enrolled = rosters.import_roster(exam, text)
    except rosters.RosterImportError as err:
        return _page(exam, problems=err.problems, error=err.message, csv_text=text, status=400)
    flash(_("%(n)d candidate(s) enrolled; each is mailed the time and the system-check link.", n=len(enrolled)))
    return redirect(url_for("rosters.roster", exam_id=exam_id))


@bp.post("/<int:exam_id>/roster/<int:enrolment_id>/another-attempt")
@role_required(Role.STAFF)
def another_attempt(exam_id: int, enrolment_id: int) -> Response:
    """Allow the candidate one more attempt."""
    exam = get_exam_for(user(), exam_id)
    enrolment = rosters.allow_another_attempt(rosters.get_enrolment(exam, enrolment_id))
    flash(_("%(name)s may start another attempt.", name=enrolment.user.display_name))
    return redirect(url_for("rosters.roster", exam_id=exam_id))


@bp.post("/<int:exam_id>/timezone")
@role_required(Role.STAFF)
def timezone(exam_id: int) -> Response | tuple[str, int]:
    """Set the institution's time zone (times are stored in UTC and shown in it)."""
    exam = get_exam_for(user(), exam_id)
    try:
        set_timezone(exam.institution, request.form.get("timezone", "").strip())
    except DomainError as err:
        return _page(exam, error=err.message, status=err.status)
    flash(_("Time zone saved."))
    return redirect(url_for("rosters.roster", exam_id=exam_id))
