"""The room scan (issue 29): the candidate's steps and the proctor's request (proctoring.roomscan)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from accounts.models import Role
from app.access import role_required, user
from exams.attempts import get_attempt_for
from kernel.clock import utcnow
from kernel.errors import ValidationFailed
from proctoring import actions, roomscan

bp = Blueprint("roomscan", __name__)
bp.add_app_template_global(roomscan.scans_for_review, "room_scans_of")
bp.add_app_template_global(lambda key: str(roomscan.STEP_LABELS.get(key, key)), "room_scan_step_label")
SUPERVISORS = (Role.PROCTOR, Role.STAFF)


@bp.route("/api/attempts/<int:attempt_id>/room-scan", methods=["GET", "POST"])
@role_required(Role.CANDIDATE)
def candidate(attempt_id: int) -> Response:
    """The candidate's scan: its state, ``{"action": "begin"}`` or ``{"step": "<key>"}`` once a step is shown."""
    attempt, now = get_attempt_for(user(), attempt_id), utcnow()
    if request.method == "GET":
        return jsonify(roomscan.state_json(roomscan.expire(attempt, now), now))
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("Send a JSON object.", fields={"body": "not an object"})
    if body.get("action") == "begin":
        state = roomscan.begin(attempt, now)
    elif isinstance(body.get("step"), str):
        state = roomscan.record_step(attempt, body["step"], now)
    else:
        raise ValidationFailed("Send {\"action\": \"begin\"} or {\"step\": ...}.", fields={"step": "missing"})
    return jsonify(roomscan.state_json(state, now))


@bp.route("/api/proctor/attempts/<int:attempt_id>/room-scan", methods=["GET", "POST"])
@role_required(*SUPERVISORS)
def proctor(attempt_id: int) -> Response:
    """The proctor's side: whether a scan runs (the live label), or POST: ask the candidate for one now."""
    attempt, now = actions.supervised_attempt(user(), attempt_id), utcnow()
    state = roomscan.expire(attempt, now) if request.method == "GET" else roomscan.request_scan(attempt, user(), now)
    return jsonify(roomscan.state_json(state, now))
