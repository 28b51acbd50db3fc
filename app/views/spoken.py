"""Spoken answers (issue 32): the candidate's start of a take and its state (exams.spoken); the grader's player."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from accounts.models import Role
from app.access import role_required, user
from exams import spoken
from exams.attempts import get_attempt_for
from kernel.clock import utcnow
from kernel.errors import ValidationFailed
from proctoring.review import parts_for_review

bp = Blueprint("spoken", __name__)
# the grader's page plays the attempt's recording at each spoken answer's span (as the review does for a room scan)
bp.add_app_template_global(spoken.spans_for_review, "spoken_spans_of")
bp.add_app_template_global(parts_for_review, "recording_parts_of")
bp.add_app_template_global(spoken.interrupted, "spoken_interrupted")


@bp.route("/api/attempts/<int:attempt_id>/spoken/<question_id>", methods=["GET", "POST"])
@role_required(Role.CANDIDATE)
def take(attempt_id: int, question_id: str) -> Response:
    """The item's state, or POST ``{"action": "start"}``: start a take (preparation, then the recorded answer)."""
    attempt, now = get_attempt_for(user(), attempt_id), utcnow()
    if request.method == "GET":
        return jsonify(spoken.spoken_state(attempt, question_id, now).as_json(now))
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("action") != "start":
        raise ValidationFailed('Send {"action": "start"}.', fields={"action": "missing"})
    return jsonify(spoken.start_take(attempt, question_id, now).as_json(now))
