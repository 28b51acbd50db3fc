"""LTI 1.3: the tool's endpoints a learning platform calls, the candidate's proctoring checks, the settings page.

The login initiation and the launch come from the platform's pages (cross-site): they carry no CSRF token of
ours and are protected by ``state`` and ``nonce`` (in a signed cookie), and the platform's signature instead.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from accounts.models import Institution, Role
from accounts.oidc import needs_profile
from app.access import role_required, same_institution, user
from app.extensions import csrf
from app.oidc_session import AFTER_PROFILE
from exams.models import AttemptStatus
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import DomainError, NotFound, ValidationFailed
from lti import proctoring, services, tool

bp = Blueprint("lti", __name__)
DL_SALT = "lti-deep-linking"
DL_MAX_AGE = 3600  # seconds a teacher has to pick an exam


def _serializer() -> URLSafeTimedSerializer:
    """Signs the deep linking context the exam picker carries (no cookie reaches us inside the platform)."""
    return URLSafeTimedSerializer(str(current_app.secret_key), salt=DL_SALT)


def _tool_urls() -> dict[str, str]:
    return {"login": url_for("lti.login", _external=True), "launch": url_for("lti.launch", _external=True),
            "jwks": url_for("lti.jwks", _external=True)}


def _refused(err: DomainError) -> tuple[str, int]:
    return render_template("lti/refused.html", error=err.message), err.status


def _autopost(action: str, fields: dict[str, str]) -> Response:
    """A page that posts ``fields`` to the platform at once (a button where scripts are off)."""
    resp = Response(render_template("lti/autopost.html", action=action, fields=fields), mimetype="text/html")
    parts = urlsplit(action)
    resp.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
        f"form-action 'self' {parts.scheme}://{parts.netloc}")
    resp.headers["Cache-Control"] = "no-store"
    return resp


# ------------------------------------------------------------------------------------------- the platform's calls


@bp.route("/lti/login", methods=["GET", "POST"])
@csrf.exempt
def login() -> Response | tuple[str, int]:
    """Third-party initiated login: answer with a redirect to the platform's authorization endpoint."""
    params = {**request.args.to_dict(), **request.form.to_dict()}
    try:
        url, state_cookie = tool.begin_login(params, url_for("lti.launch", _external=True))
    except DomainError as err:
        return _refused(err)
    resp = redirect(url)
    secure = bool(current_app.config["SESSION_COOKIE_SECURE"])
    resp.set_cookie(tool.STATE_COOKIE, state_cookie, max_age=tool.STATE_TTL, httponly=True, secure=secure,
                    samesite="None" if secure else "Lax", path=url_for("lti.launch"))
    return resp


@bp.post("/lti/launch")
@csrf.exempt
def launch() -> Response | str | tuple[str, int]:
    """The platform posts the signed launch here; each message type goes its way."""
    try:
        checked = tool.finish_launch(request.form.to_dict(), request.cookies.get(tool.STATE_COOKIE))
        if checked.message_type == "LtiDeepLinkingRequest":
            context = services.deep_linking_context(checked)
            token = _serializer().dumps(context)
            return render_template("lti/pick.html", exams=services.deep_linking_exams(context), token=token,
                                   platform=checked.platform)
        if checked.message_type == "LtiStartProctoring":
            proctored = proctoring.start_proctoring(checked)
            return _log_in(checked, url_for("lti.checks", session_id=proctored.id))
        if checked.message_type == "LtiEndAssessment":
            ended = proctoring.end_assessment(checked)
            return render_template("lti/ended.html", session=ended)
        candidate, link = tool.resource_launch(checked)
        if candidate is None:
            return render_template("lti/teacher.html", link=link)
        return _log_in(checked, url_for("identity.page", exam_id=link.exam_id))
    except DomainError as err:
        db.session.rollback()
        return _refused(err)


def _log_in(checked: tool.Launch, target: str) -> Response:
    candidate = tool.candidate_for(checked.platform, checked.subject, checked.claims)
    tool.record_login(checked.platform, candidate, request.remote_addr or "-")
    login_user(candidate)
    if needs_profile(candidate):
        session[AFTER_PROFILE] = target  # back to the exam or the proctoring checks once the profile is done
        flash(_("Welcome! Before your first exam we need a few details that %(p)s does not give us.",
                p=checked.platform.name))
        return redirect(url_for("sso.profile"))
    return redirect(target)


@bp.post("/lti/deep-link")
@csrf.exempt
def deep_link() -> Response | tuple[str, int]:
    """The teacher picked an exam: post the signed answer back to the platform."""
    try:
        context = _serializer().loads(
            request.form.get("token", ""), max_age=DL_MAX_AGE)
    except BadSignature:
        return _refused(tool.LaunchRefused(_("The exam picker has expired. Please open it again from the course.")))
    try:
        url, jwt = services.deep_linking_response(context, request.form.get("exam_id"),
                                                  url_for("lti.launch", _external=True))
    except DomainError as err:
        return _refused(err)
    return _autopost(url, {"JWT": jwt})


@bp.get("/lti/jwks.json")
def jwks() -> Response:
    """The tool's public keys (the platform enters this URL as the tool's public keyset URL)."""
    resp = current_app.response_class(current_app.json.dumps(tool.tool_jwks()), mimetype="application/json")
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


# ------------------------------------------------------------------------------------------- the candidate's checks


@bp.get("/lti/proctoring/<int:session_id>")
@role_required(Role.CANDIDATE)
def checks(session_id: int) -> str:
    """Identity check and system check for the platform's proctored assessment, then the start."""
    proctored = proctoring.get_session(session_id, user())
    return render_template("lti/checks.html", session=proctored, checks=proctoring.checks(proctored),
                           live=proctoring.supervision_live(proctored))


@bp.post("/lti/proctoring/<int:session_id>/supervision")
@role_required(Role.CANDIDATE)
def open_supervision(session_id: int) -> Response:
    """Both checks passed: start the supervision (its own window, which stays open beside the assessment)."""
    proctored = proctoring.get_session(session_id, user())
    try:
        proctoring.open_supervision(proctored, utcnow())
    except DomainError as err:
        flash(err.message)
        return redirect(url_for("lti.checks", session_id=proctored.id))
    return redirect(url_for("lti.supervision", session_id=proctored.id))


@bp.get("/lti/proctoring/<int:session_id>/supervision")
@role_required(Role.CANDIDATE)
def supervision(session_id: int) -> Response | str:
    """The supervision window: camera, microphone (and screen where the exam records it), notices and chat."""
    proctored = proctoring.get_session(session_id, user())
    if proctored.attempt is None:
        return redirect(url_for("lti.checks", session_id=proctored.id))
    return render_template("lti/supervision.html", session=proctored, attempt=proctored.attempt,
                           running=proctored.attempt.status == AttemptStatus.IN_PROGRESS
                           and proctored.status != "ended")


@bp.get("/api/lti/proctoring/<int:session_id>")
@role_required(Role.CANDIDATE)
def supervision_state(session_id: int) -> Response:
    """Whether the supervision is live and recording (the checks page enables the start with it)."""
    proctored = proctoring.get_session(session_id, user())
    return jsonify({"status": proctored.status, "live": proctoring.supervision_live(proctored)})


@bp.post("/api/lti/proctoring/<int:session_id>/closed")
@role_required(Role.CANDIDATE)
def supervision_closed(session_id: int) -> Response:
    """The candidate's browser says the supervision window is closing: a flag while the supervision runs."""
    proctored = proctoring.get_session(session_id, user())
    return jsonify({"flagged": proctoring.supervision_closed(proctored, utcnow())})


@bp.post("/lti/proctoring/<int:session_id>/start")
@role_required(Role.CANDIDATE)
def start(session_id: int) -> Response | tuple[str, int]:
    """Both checks passed: send LtiStartAssessment to the platform."""
    proctored = proctoring.get_session(session_id, user())
    try:
        url, jwt = proctoring.start_assessment(proctored)
    except DomainError as err:
        flash(err.message)
        return redirect(url_for("lti.checks", session_id=proctored.id))
    return _autopost(url, {"JWT": jwt})


@bp.post("/lti/proctoring/<int:session_id>/control")
@role_required(Role.PROCTOR, Role.STAFF)
def control(session_id: int) -> Response:
    """A proctor's action on a platform's assessment (pause, resume, terminate, extra time, flag)."""
    proctored = db.session.get(proctoring.LtiProctoring, session_id)
    me = user()
    if proctored is None or proctored.link.platform.institution_id != me.institution_id or (
            me.role == Role.PROCTOR and me not in proctored.link.exam.proctors):
        raise NotFound()
    try:
        extra = int(request.form.get("extra_time") or 0)
    except ValueError:
        extra = -1
    try:
        status = proctoring.control(proctored, request.form.get("action", ""), reason=request.form.get("reason", ""),
                                    extra_time=extra, proctor=me)
        flash(_("The platform took the action; the assessment is now: %(s)s",
                s=STATUS_LABELS().get(status, status or _("unknown"))))
    except DomainError as err:
        flash(err.message)
    return redirect(url_for("lti.platforms", institution_id=me.institution_id) if me.role == Role.STAFF
                    else url_for("lti.proctor_sessions"))


@bp.get("/proctor/lti")
@role_required(Role.PROCTOR)
def proctor_sessions() -> str:
    """The platform assessments of the exams this proctor supervises, with the actions the platform offers."""
    return render_template("lti/proctor_sessions.html", sessions=proctoring.open_sessions_for_proctor(user()),
                           status_labels=STATUS_LABELS(), action_labels=ACTION_LABELS())


@bp.app_template_global()
def lti_open_count(proctor: Any) -> int:
    """How many platform assessments of the proctor's exams have not ended (shown on the proctor's home page)."""
    return len(proctoring.open_sessions_for_proctor(proctor))


def STATUS_LABELS() -> dict[str, str]:  # noqa: N802 - a label table, in the user's language
    """The platform's assessment states in words."""
    return {"active": _("running"), "paused": _("paused"), "terminated": _("terminated"),
            "complete": _("complete"), "checks": _("identity and system check"), "assessment": _("in progress"),
            "ended": _("ended")}


def ACTION_LABELS() -> dict[str, str]:  # noqa: N802 - a label table, in the user's language
    """The Assessment Control actions in words."""
    return {"pause": _("Pause"), "resume": _("Resume"), "terminate": _("Terminate"), "update": _("Extra time"),
            "flag": _("Flag")}


# ------------------------------------------------------------------------------------------- settings


def _institution(institution_id: int) -> Institution:
    same_institution(institution_id)
    inst = db.session.get(Institution, institution_id)
    if inst is None:
        raise NotFound()
    return inst


@bp.route("/institutions/<int:institution_id>/lti", methods=["GET", "POST"])
@role_required(Role.STAFF, Role.ADMIN)
def platforms(institution_id: int) -> str | tuple[str, int] | Response:
    """The institution's learning platforms, their course links and the fields to copy into the platform."""
    inst = _institution(institution_id)
    ctx: dict[str, Any] = {"institution": inst, "platforms": tool.platforms_of(inst.id), "urls": _tool_urls(),
                           "links": tool.links_of(inst.id), "sessions": proctoring.open_sessions(inst.id),
                           "status_labels": STATUS_LABELS(), "action_labels": ACTION_LABELS(),
                           "exams": services.exams_of(inst.id),
                           "form": {}, "errors": {}}
    if request.method == "GET":
        return render_template("lti/platforms.html", **ctx)
    try:
        tool.save_platform(inst, tool.clean_platform_settings(request.form.to_dict()))
    except ValidationFailed as err:
        ctx.update(form=request.form, errors=err.fields)
        return render_template("lti/platforms.html", **ctx), 400
    flash(_("Learning platform saved."))
    return redirect(url_for("lti.platforms", institution_id=inst.id))


@bp.post("/institutions/<int:institution_id>/lti/<int:platform_id>/delete")
@role_required(Role.STAFF, Role.ADMIN)
def remove(institution_id: int, platform_id: int) -> Response:
    """Remove a platform (its links go; the accounts stay)."""
    inst = _institution(institution_id)
    platform = tool.get_platform(platform_id, institution_id=inst.id)
    if request.form.get("confirm") != "yes":
        flash(_("Please confirm that the platform is to be removed."))
    else:
        tool.delete_platform(platform)
        flash(_("Learning platform removed."))
    return redirect(url_for("lti.platforms", institution_id=inst.id))


@bp.post("/institutions/<int:institution_id>/lti/links/<int:link_id>/roster")
@role_required(Role.STAFF, Role.ADMIN)
def roster(institution_id: int, link_id: int) -> Response:
    """Enrol the course's students from the platform's roster."""
    inst = _institution(institution_id)
    try:
        report = services.sync_roster(tool.get_link(link_id, institution_id=inst.id))
        flash(_("Roster read: %(n)d students enrolled now, %(a)d enrolled before, %(s)d others skipped.",
                n=report.enrolled, a=report.already, s=report.skipped))
    except NotFound:
        raise
    except DomainError as err:
        flash(err.message)
    return redirect(url_for("lti.platforms", institution_id=inst.id))


@bp.post("/institutions/<int:institution_id>/lti/links/<int:link_id>/grades")
@role_required(Role.STAFF, Role.ADMIN)
def grades(institution_id: int, link_id: int) -> Response:
    """Send the released results to the platform's grade column."""
    inst = _institution(institution_id)
    try:
        report = services.send_results(tool.get_link(link_id, institution_id=inst.id))
        flash(_("Results sent: %(n)d sent, %(u)d unchanged, %(r)d not released yet.",
                n=report.sent, u=report.unchanged, r=report.not_released))
    except NotFound:
        raise
    except DomainError as err:
        flash(err.message)
    return redirect(url_for("lti.platforms", institution_id=inst.id))

