"""Platform admin: institutions (create, edit), their staff accounts, and every account's lock, second factor and
role, each action recorded."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from accounts import administration
from accounts.models import Institution, Role
from accounts.services import create_user, set_proctor_second_factor_optional
from app.access import role_required, user
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import NotFound, ValidationFailed

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _institution(institution_id: int) -> Institution:
    inst = db.session.get(Institution, institution_id)
    if inst is None:
        raise NotFound()
    return inst


@bp.get("/")
@role_required(Role.ADMIN)
def home() -> str:
    """Institutions, accounts (searchable) and the latest administrator actions."""
    institutions = db.session.scalars(select(Institution).order_by(Institution.name)).all()
    query = request.args.get("q", "")[:200]
    inst_id = request.args.get("institution", type=int)
    return render_template("admin/home.html", institutions=institutions, query=query, institution_id=inst_id,
                           staff=administration.find_users(query, inst_id), actions=administration.recent_actions(),
                           roles=administration.ASSIGNABLE)


@bp.route("/accessibility", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def accessibility() -> str | Response:
    """Edit the platform's accessibility statement; an empty text keeps the page's default."""
    from accounts.accessibility import CONFORMANCE, current_statement, update_statement

    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in ("conformance", "known_gaps_de", "known_gaps_en", "contact",
                                                     "enforcement_de", "enforcement_en")}
        try:
            update_statement(**form, now=utcnow())
        except ValidationFailed as err:
            errors = err.fields
        else:
            flash(_("Saved."))
            return redirect(url_for("admin.accessibility"))
    return render_template("admin/accessibility.html", statement=current_statement(), states=CONFORMANCE,
                           errors=errors)


@bp.post("/institutions")
@role_required(Role.ADMIN)
def new_institution() -> Response:
    """Create an institution."""
    administration.new_institution(request.form.get("name", ""), request.form.get("slug", ""))
    flash(_("Institution created."))
    return redirect(url_for("admin.home"))


@bp.post("/institutions/<int:institution_id>")
@role_required(Role.ADMIN)
def edit_institution(institution_id: int) -> Response:
    """Rename an institution or change its short name."""
    administration.update_institution(_institution(institution_id), request.form.get("name", ""),
                                      request.form.get("slug", ""))
    flash(_("Saved."))
    return redirect(url_for("admin.home"))


@bp.post("/institutions/<int:institution_id>/staff")
@role_required(Role.ADMIN)
def new_staff(institution_id: int) -> Response:
    """Create a staff account for an institution."""
    inst = _institution(institution_id)
    create_user(request.form["email"], request.form["password"], Role.STAFF, request.form.get("name", ""), inst)
    flash(_("Account created."))
    return redirect(url_for("admin.home"))


@bp.post("/users/<int:user_id>/lock")
@role_required(Role.ADMIN)
def lock(user_id: int) -> Response:
    """Lock an account (or unlock it): a locked one cannot log in, its sessions end now."""
    target = administration.managed_user(user_id)
    if request.form.get("locked") == "no":
        administration.unlock(user(), target, utcnow())
        flash(_("Account unlocked."))
    else:
        administration.lock(user(), target, utcnow())
        flash(_("Account locked. Every session of it has ended."))
    return redirect(url_for("admin.home", q=request.form.get("q") or None))


@bp.post("/users/<int:user_id>/second-factor")
@role_required(Role.ADMIN)
def reset_second_factor(user_id: int) -> Response:
    """Forget the account's authenticator app and recovery codes (asks once); it sets up a new one at login."""
    target = administration.managed_user(user_id)
    if request.form.get("confirm") != "yes":
        return Response(render_template(
            "confirm.html", title=_("Reset the second factor of %(email)s?", email=target.email),
            consequences=[_("The authenticator app and the recovery codes of this account stop working at once."),
                          _("Every session of the account ends."),
                          _("At the next login the person sets up a new authenticator app.")],
            action=url_for("admin.reset_second_factor", user_id=target.id), button=_("Reset the second factor"),
            back=url_for("admin.home")))
    administration.reset_second_factor(user(), target, utcnow())
    flash(_("Second factor reset. The account sets up a new one at its next login."))
    return redirect(url_for("admin.home"))


@bp.post("/users/<int:user_id>/role")
@role_required(Role.ADMIN)
def change_role(user_id: int) -> Response:
    """Make an exam office account a proctor's or the other way round."""
    target = administration.managed_user(user_id)
    try:
        role = Role(request.form.get("role", ""))
    except ValueError:
        raise ValidationFailed(_("Choose a role."), fields={"role": "unknown"}) from None
    administration.change_role(user(), target, role, utcnow())
    flash(_("Role changed. Every session of the account has ended."))
    return redirect(url_for("admin.home"))


@bp.post("/institutions/<int:institution_id>/second-factor")
@role_required(Role.ADMIN)
def second_factor(institution_id: int) -> Response:
    """Whether the institution's proctors may log in without a second factor (admins and staff never may)."""
    set_proctor_second_factor_optional(_institution(institution_id), request.form.get("optional") == "yes")
    flash(_("Saved."))
    return redirect(url_for("admin.home"))
