"""Safe Exam Browser in the web layer: the exam's ``.seb`` file, the quit page, and the key check on every request
of a running SEB attempt. What a key proves is decided in ``exams.lockdown``; this only reads the headers."""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from accounts.models import Role
from app.access import role_required, user
from exams import lockdown
from exams.catalog import get_exam_for
from exams.models import Attempt, Exam
from kernel.clock import utcnow
from kernel.db import db

bp = Blueprint("lockdown", __name__)

# The exam's own endpoints that start an attempt: they need the key too (the exam page itself explains).
START_ENDPOINTS = frozenset({"attempts.start"})


def base_url() -> str:
    """The platform's public address, which the exam's SEB settings (and so its Config Key) are built on."""
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")


def _secret() -> bytes:
    return str(current_app.config["SECRET_KEY"]).encode()


def seb_file_url(exam: Exam) -> str:
    """The public address of the exam's ``.seb`` file (SEB downloads it without the candidate's login)."""
    return base_url() + lockdown.seb_file_path(exam)


def seb_links(exam: Exam) -> dict[str, str]:
    """The ``.seb`` file and the ``sebs://`` link that opens it in SEB, for pages and mails."""
    file_url = seb_file_url(exam)
    return {"file": file_url, "link": lockdown.sebs_link(file_url)}


def request_proof(exam: Exam) -> lockdown.KeyProof:
    """What this request's SEB headers prove for ``exam``."""
    return lockdown.prove(exam, base_url(), request.url, request.headers.get(lockdown.CONFIG_KEY_HEADER),
                          request.headers.get(lockdown.REQUEST_HASH_HEADER),
                          request.cookies.get(lockdown.PAGE_PROOF_COOKIE))


def refusal(exam: Exam, proof: lockdown.KeyProof) -> tuple[Response | str, int]:
    """403 for a request without a valid key: JSON for the page's API calls, else how to start the exam in SEB."""
    if proof == lockdown.KeyProof.MALFORMED:
        message = _("The Safe Exam Browser key sent with this request is malformed. Please quit Safe Exam Browser "
                    "and open the exam again from its link.")
    else:
        message = _("This exam can only be taken in Safe Exam Browser with the exam's settings.")
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        code = "seb_key_malformed" if proof == lockdown.KeyProof.MALFORMED else "seb_required"
        return jsonify({"error": {"code": code, "message": message}}), 403
    return render_template("attempts/seb_required.html", exam=exam, message=message, seb=seb_links(exam),
                           malformed=proof == lockdown.KeyProof.MALFORMED), 403


@bp.before_app_request
def _require_seb() -> tuple[Response | str, int] | None:
    """From the start to the submission of a SEB attempt every request must carry a valid key."""
    args = request.view_args or {}
    if "attempt_id" not in args and request.endpoint not in START_ENDPOINTS:
        return None  # nothing this hook guards: no need to load the user (an item picture's signed address, say)
    if not current_user.is_authenticated or current_user.role != Role.CANDIDATE:
        return None
    if "attempt_id" in args:
        attempt = db.session.get(Attempt, args["attempt_id"])
        # The session's identity map holds rows weakly: kept here, the view's own lookup of the attempt and
        # its exam costs no second query.
        g.attempt_looked_up = attempt
        if attempt is None or attempt.user_id != current_user.id or not lockdown.guards(attempt):
            return None  # another's attempt answers 404 in the view; an ended one needs no key
        proof = request_proof(attempt.exam)
        if lockdown.record_proof(attempt, proof, utcnow()):
            return None
        return refusal(attempt.exam, proof)
    if request.endpoint in START_ENDPOINTS and "exam_id" in args:
        exam = db.session.get(Exam, args["exam_id"])
        if exam is None or not exam.seb_required:
            return None
        proof = request_proof(exam)
        return None if proof == lockdown.KeyProof.VALID else refusal(exam, proof)
    return None


@bp.get("/seb/exams/<int:exam_id>/<token>/exam.seb")
def seb_file(exam_id: int, token: str) -> Response:
    """The exam's SEB settings as an unencrypted ``.seb`` file (the address holds an unguessable token)."""
    exam = db.session.get(Exam, exam_id)
    if exam is None or not exam.seb_required or not hmac.compare_digest(
            token.encode(), lockdown.config_token(exam_id, _secret()).encode()):
        abort(404)
    body = lockdown.seb_file(lockdown.exam_settings(exam, base_url()))
    return Response(body, mimetype="application/seb", headers={
        "Content-Disposition": f'attachment; filename="exam-{exam.id}.seb"', "Cache-Control": "no-store"})


@bp.get("/candidate/exams/<int:exam_id>/seb-quit")
@role_required(Role.CANDIDATE)
def quit_page(exam_id: int) -> str:
    """After submission: SEB quits when it opens this page; any other browser shows where the result will be."""
    exam = get_exam_for(user(), exam_id)
    return render_template("attempts/seb_quit.html", exam=exam)
