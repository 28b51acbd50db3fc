"""Institution staff: their exams and proctors."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from accounts.models import Role, User
from accounts.services import create_user
from app.access import role_required, user
from app.errors import NotFound
from app.extensions import db
from exams.catalog import assign_proctor, exams_for, get_exam_for

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.get("/")
@role_required(Role.STAFF)
def home() -> str:
    """The institution's exams and proctors."""
    me = user()
    proctors = db.session.scalars(
        select(User).where(User.role == Role.PROCTOR, User.institution_id == me.institution_id).order_by(User.email)
    ).all()
    return render_template("staff/home.html", exams=exams_for(me), proctors=proctors)


@bp.get("/exams/<int:exam_id>")
@role_required(Role.STAFF)
def exam(exam_id: int) -> str:
    """One exam of the institution."""
    me = user()
    ex = get_exam_for(me, exam_id)
    proctors = db.session.scalars(
        select(User).where(User.role == Role.PROCTOR, User.institution_id == me.institution_id)
    ).all()
    return render_template("staff/exam.html", exam=ex, proctors=proctors)


@bp.post("/exams/<int:exam_id>/proctors")
@role_required(Role.STAFF)
def add_proctor(exam_id: int) -> Response:
    """Assign a proctor to an exam."""
    me = user()
    ex = get_exam_for(me, exam_id)
    proctor = db.session.get(User, request.form.get("user_id", type=int) or 0)
    if proctor is None:
        raise NotFound()
    assign_proctor(ex, proctor)
    flash(_("Proctor assigned."))
    return redirect(url_for("staff.exam", exam_id=exam_id))


@bp.post("/proctors")
@role_required(Role.STAFF)
def new_proctor() -> Response:
    """Create a proctor account in the staff member's institution."""
    me = user()
    create_user(request.form["email"], request.form["password"], Role.PROCTOR, request.form.get("name", ""),
                me.institution)
    flash(_("Account created."))
    return redirect(url_for("staff.home"))
