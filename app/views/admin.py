"""Platform admin: institutions and their staff accounts."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from accounts.models import Institution, Role, User
from accounts.services import (
    create_institution,
    create_user,
    lock_user,
    set_proctor_second_factor_optional,
    unlock_user,
)
from app.access import role_required
from kernel.db import db
from kernel.errors import NotFound

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@role_required(Role.ADMIN)
def home() -> str:
    """Institutions and their staff."""
    institutions = db.session.scalars(select(Institution).order_by(Institution.name)).all()
    staff = db.session.scalars(select(User).where(User.role.in_([Role.STAFF, Role.PROCTOR]))
                               .order_by(User.email)).all()
    return render_template("admin/home.html", institutions=institutions, staff=staff)


@bp.post("/institutions")
@role_required(Role.ADMIN)
def new_institution() -> Response:
    """Create an institution."""
    create_institution(request.form.get("name", "").strip() or "?", request.form.get("slug", "").strip().lower())
    flash(_("Institution created."))
    return redirect(url_for("admin.home"))


@bp.post("/institutions/<int:institution_id>/staff")
@role_required(Role.ADMIN)
def new_staff(institution_id: int) -> Response:
    """Create a staff account for an institution."""
    inst = db.session.get(Institution, institution_id)
    if inst is None:
        raise NotFound()
    create_user(request.form["email"], request.form["password"], Role.STAFF, request.form.get("name", ""), inst)
    flash(_("Account created."))
    return redirect(url_for("admin.home"))


@bp.post("/users/<int:user_id>/lock")
@role_required(Role.ADMIN)
def lock(user_id: int) -> Response:
    """Lock a staff or proctor account (or unlock it): a locked one cannot log in, its sessions end now."""
    u = db.session.get(User, user_id)
    if u is None or u.role == Role.ADMIN:
        raise NotFound()
    if request.form.get("locked") == "no":
        unlock_user(u)
        flash(_("Account unlocked."))
    else:
        lock_user(u)
        flash(_("Account locked. Every session of it has ended."))
    return redirect(url_for("admin.home"))


@bp.post("/institutions/<int:institution_id>/second-factor")
@role_required(Role.ADMIN)
def second_factor(institution_id: int) -> Response:
    """Whether the institution's proctors may log in without a second factor (admins and staff never may)."""
    inst = db.session.get(Institution, institution_id)
    if inst is None:
        raise NotFound()
    set_proctor_second_factor_optional(inst, request.form.get("optional") == "yes")
    flash(_("Saved."))
    return redirect(url_for("admin.home"))
