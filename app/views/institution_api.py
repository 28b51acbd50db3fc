"""The institution API: an institution's own systems read results and manage rosters with an API token.

``Authorization: Bearer <token>`` (``results.tokens``), no session and so no CSRF token; described in
``app/openapi.py``. A token sees its own institution only: another institution's exam answers 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from app.extensions import csrf
from kernel.clock import utcnow
from results import api, export
from results.tokens import Scope, authenticate, exam_for_token, exams_for_token

bp = Blueprint("institution_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@bp.after_request
def _challenge(resp: Response) -> Response:
    if resp.status_code == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="aufsicht"'
    return resp


def _token(scope: Scope | None) -> Any:
    return authenticate(request.headers.get("Authorization"), scope, utcnow())


@bp.get("/exams")
def exams() -> Response:
    """The exams of the token's institution."""
    token = _token(None)
    return jsonify({"exams": [api.exam_json(e) for e in exams_for_token(token)]})


@bp.get("/exams/<int:exam_id>/results")
def results(exam_id: int) -> Response:
    """The exam's released results (scope results:read); each reading is in the candidates' access log."""
    token = _token(Scope.RESULTS_READ)
    table = export.released_results(exam_for_token(token, exam_id))
    export.log_reading(table, None, export.WHY_API, utcnow(), window=True)
    return jsonify(export.to_json(table))


# One rule for both methods: two rules on one path answer a too large id with 405 instead of 404 (werkzeug).
@bp.route("/exams/<int:exam_id>/roster", methods=["GET", "POST"])
def roster(exam_id: int) -> Response:
    """The exam's roster, or (POST) enrol a candidate of the institution by email, in a session if given
    (scope rosters:manage)."""
    token = _token(Scope.ROSTERS_MANAGE)
    exam = exam_for_token(token, exam_id)
    if request.method == "POST":
        return jsonify(api.enrolment_json(api.enrol_by_email(exam, request.get_json(force=True, silent=True))))
    return jsonify(api.roster_json(exam))
