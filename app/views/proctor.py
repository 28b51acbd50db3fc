"""Proctors (and staff): assigned exams, the live grid, one attempt's timeline, actions."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify, make_response, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from accounts.models import Role
from app.access import role_required, user
from app.clock import utcnow
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from exams.attempts import timeline
from exams.catalog import exams_for
from proctoring import actions
from proctoring import live as media
from proctoring.flags import flags_of
from proctoring.models import Flag, FlagStatus

bp = Blueprint("proctor", __name__, url_prefix="/proctor")
api = Blueprint("proctor_api", __name__, url_prefix="/api/proctor")
SUPERVISORS = (Role.PROCTOR, Role.STAFF)


@bp.get("/")
@role_required(Role.PROCTOR)
def home() -> str:
    """Assigned exams."""
    return render_template("proctor/home.html", exams=exams_for(user()))


@bp.get("/live")
@role_required(*SUPERVISORS)
def live() -> str:
    """The grid of live candidates (filled and refreshed by proctor.js)."""
    return render_template("proctor/live.html")


@bp.get("/attempts/<int:attempt_id>")
@role_required(*SUPERVISORS)
def attempt(attempt_id: int) -> str:
    """One attempt: actions, flags and the timeline."""
    att = actions.supervised_attempt(user(), attempt_id)
    return render_template("proctor/attempt.html", attempt=att, events=timeline(att), flags=flags_of(att))


@api.get("/live")
@role_required(*SUPERVISORS)
def live_state() -> Response:
    """Tiles of every live attempt the user supervises."""
    now = utcnow()
    attempts = actions.live_attempts(user())
    ids = [a.id for a in attempts]
    rows = db.session.execute(
        select(Flag.attempt_id, func.count()).where(Flag.attempt_id.in_(ids), Flag.status == FlagStatus.OPEN)
        .group_by(Flag.attempt_id)
    ).all() if ids else []
    counts = {attempt_id: n for attempt_id, n in rows}
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    tiles = []
    for a in attempts:
        t = actions.tile(a, now, counts.get(a.id, 0))
        snap = media.snapshot(app, a.id)
        t["connection"] = media.connection_state(app, a.id)
        t["snapshot_age_ms"] = None if snap is None else int((time.time() - snap[0]) * 1000)
        t["snapshot_url"] = None if snap is None else url_for("proctor_api.snapshot", attempt_id=a.id,
                                                              t=int(snap[0] * 1000))
        tiles.append(t)
    return jsonify({"now": now.isoformat() + "Z", "attempts": tiles})


@api.get("/attempts/<int:attempt_id>/snapshot")
@role_required(*SUPERVISORS)
def snapshot(attempt_id: int) -> Response:
    """The latest snapshot of a live candidate (JPEG, never cached)."""
    att = actions.supervised_attempt(user(), attempt_id)
    snap = media.snapshot(current_app._get_current_object(), att.id)  # type: ignore[attr-defined]
    if snap is None:
        raise NotFound("No snapshot yet.")
    resp = make_response(snap[1])
    resp.headers["Content-Type"] = "image/jpeg"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _body() -> dict[str, object]:
    body: object = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if not isinstance(body, dict):
        raise ValidationFailed("Send a JSON object.", fields={"body": "not an object"})
    return body


@api.post("/attempts/<int:attempt_id>/<action>")
@role_required(*SUPERVISORS)
def act(attempt_id: int, action: str) -> Response:
    """Warn, pause, resume, add time or terminate."""
    me, now = user(), utcnow()
    att = actions.supervised_attempt(me, attempt_id)
    body = _body()
    if action == "warn":
        actions.warn(att, me, str(body.get("message", "")), now)
    elif action == "pause":
        actions.pause(att, me, now, str(body.get("reason", "")))
    elif action == "resume":
        actions.resume(att, me, now)
    elif action == "add-time":
        try:
            minutes = int(str(body.get("minutes", "")))
        except ValueError:
            raise ValidationFailed("Minutes must be a whole number.", fields={"minutes": "whole number"}) from None
        actions.add_time(att, me, minutes, now, str(body.get("reason", "")))
    elif action == "terminate":
        actions.terminate(att, me, str(body.get("reason", "")), now)
        from app.views.attempts import end_media

        end_media(att.id)
    else:
        raise ValidationFailed("Unknown action.", fields={"action": "warn, pause, resume, add-time or terminate"})
    return jsonify({"ok": True, "status": att.status.value})
