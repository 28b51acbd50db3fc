"""Landing page, role dispatch, language choice, health check, privacy notice, accessibility statement."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import text
from werkzeug.wrappers import Response

from accounts.models import Role
from kernel.db import db

bp = Blueprint("main", __name__)

HOME = {Role.CANDIDATE: "candidate.home", Role.PROCTOR: "proctor.home", Role.STAFF: "staff.home",
        Role.ADMIN: "admin.home"}


@bp.get("/")
def index() -> Response:
    """Send each role to its home page, anonymous users to the login."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for(HOME[current_user.role]))


@bp.post("/language")
def set_language() -> Response:
    """Remember the chosen UI language in the session."""
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if current_user.is_authenticated:
            from accounts.services import set_language as remember_language

            remember_language(current_user, lang)  # mails follow the language chosen
    from app.views.auth import safe_next

    return redirect(safe_next(request.form.get("next")) or "/")


@bp.get("/privacy")
def privacy() -> str:
    """The privacy notice."""
    from flask_login import current_user

    from oversight.detectors import DETECTORS
    from privacy.inventory import OUTBOX, RECORDS, STORED_FILES
    from privacy.settings import role_statement

    institution_id = current_user.institution_id if current_user.is_authenticated else None
    return render_template("privacy.html", version=current_app.config["PRIVACY_NOTICE_VERSION"], records=RECORDS,
                           files=[*STORED_FILES, OUTBOX], controller=role_statement(institution_id),
                           detectors=DETECTORS)


@bp.get("/accessibility")
def accessibility() -> str:
    """The accessibility statement (Erklärung zur Barrierefreiheit), linked from every page's footer."""
    from accounts.accessibility import current_statement

    return render_template("accessibility.html", statement=current_statement())


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Liveness and database reachability for load balancers."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any driver error means "not ready"
        db.session.rollback()
        return jsonify({"status": "db_unavailable"}), 503
    return jsonify({"status": "ok"}), 200


@bp.get("/api/openapi.json")
def openapi() -> Response:
    """The OpenAPI description of the JSON API (public: it names routes and shapes, no data)."""
    from app.openapi import describe

    resp = jsonify(describe())
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp
