"""Login, logout, logout everywhere and candidate registration."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from accounts.models import Institution
from accounts.services import authenticate, get_institution_by_slug, logout_everywhere, register_candidate
from accounts.validation import GENDERS, SALUTATIONS, clean_registration
from app.access import user
from app.oidc_session import signed_in_through_provider
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import DomainError, ValidationFailed

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    """Show the login form; on POST authenticate (throttled, audited)."""
    if request.method == "GET":
        return render_template("auth/login.html")
    cfg = current_app.config
    try:
        u = authenticate(request.form.get("email", ""), request.form.get("password", ""), request.remote_addr or "-",
                         max_failures=int(cfg["LOGIN_MAX_FAILURES"]),
                         window=dt.timedelta(minutes=int(cfg["LOGIN_FAILURE_WINDOW_MINUTES"])))
    except DomainError as err:
        return render_template("auth/login.html", error=err.message, email=request.form.get("email", "")), err.status
    login_user(u)
    return redirect(safe_next(request.args.get("next")) or url_for("main.index"))


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths; never an open redirect.

    Control characters and backslashes are refused outright: browsers (and ``urlsplit``) drop tabs and
    newlines, so ``/<TAB>/evil.example`` becomes ``//evil.example``, and a newline breaks the header (500).
    """
    if not target or any(ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in target):
        return None
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc:
        return target
    return None


@bp.post("/logout")
@login_required
def logout() -> Response:
    """End this session."""
    via_provider = signed_in_through_provider(user().id)
    logout_user()
    flash(_("You are logged out."))
    # Signed in through an OpenID provider: on to its logout too (RP-initiated logout), where it offers one.
    return redirect(url_for("sso.logged_out") if via_provider else url_for("auth.login"))


@bp.post("/logout-everywhere")
@login_required
def logout_all() -> Response:
    """End every session of this account on every device."""
    logout_everywhere(user())
    logout_user()
    flash(_("You are logged out on all devices."))
    return redirect(url_for("auth.login"))


@bp.get("/register")
def choose_institution() -> str:
    """List the institutions a candidate can register with."""
    institutions = db.session.scalars(select(Institution).order_by(Institution.name)).all()
    return render_template("auth/choose_institution.html", institutions=institutions)


@bp.route("/register/<slug>", methods=["GET", "POST"])
def register(slug: str) -> str | Response | tuple[str, int]:
    """Candidate registration with an institution."""
    inst = get_institution_by_slug(slug)
    ctx = {"institution": inst, "salutations": SALUTATIONS, "genders": GENDERS, "form": request.form, "errors": {}}
    if request.method == "GET":
        return render_template("auth/register.html", **ctx)
    if request.form.get("privacy") != "yes":
        ctx["errors"] = {"privacy": _("Please confirm that you have read the privacy notice.")}
        return render_template("auth/register.html", **ctx), 400
    try:
        reg = clean_registration(request.form.to_dict(), utcnow().date())
        u = register_candidate(inst, reg, current_app.config["PRIVACY_NOTICE_VERSION"])
    except ValidationFailed as err:
        ctx["errors"] = err.fields
        return render_template("auth/register.html", **ctx), 400
    except DomainError as err:
        ctx["errors"] = {"email": err.message}
        return render_template("auth/register.html", **ctx), err.status
    login_user(u)
    flash(_("Welcome! Your account has been created."))
    return redirect(url_for("candidate.home"))
