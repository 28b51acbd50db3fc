"""Proctors (and staff): assigned exams, the live grid, one attempt's timeline, actions."""

from __future__ import annotations

from flask import Blueprint, jsonify, make_response, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wrappers import Response
from werkzeug.wrappers import Response as WResponse

from accounts.models import Role
from app.access import role_required, user
from app.ids import id_arg
from exams.attempts import timeline
from exams.catalog import exams_for
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import NotFound, ValidationFailed
from proctoring import actions
from proctoring import review as review_service
from proctoring.flags import flags_of
from proctoring.media import media as media_service
from proctoring.media import snapshot_age_ms
from proctoring.models import Flag, FlagStatus
from proctoring.sessions import session_id

bp = Blueprint("proctor", __name__, url_prefix="/proctor")
api = Blueprint("proctor_api", __name__, url_prefix="/api/proctor")
SUPERVISORS = (Role.PROCTOR, Role.STAFF)


@bp.get("/")
@role_required(Role.PROCTOR)
def home() -> str:
    """Assigned exams, and the identity checks waiting for this proctor (one click each, with a count)."""
    from idcheck.manual import waiting_count
    from idcheck.verification import review_queue

    return render_template("proctor/home.html", exams=exams_for(user()), manual_waiting=waiting_count(user(), utcnow()),
                           review_waiting=len(review_queue(user())))


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


@bp.get("/attempts/<int:attempt_id>/review")
@role_required(*SUPERVISORS)
def review(attempt_id: int) -> str:
    """Timeline, flags and recording playback of an ended attempt, with the outcome form."""
    att = actions.supervised_attempt(user(), attempt_id)
    return render_template("proctor/review.html", attempt=att, events=timeline(att), flags=flags_of(att),
                           parts=review_service.recording_parts(att))


@bp.get("/attempts/<int:attempt_id>/recordings/<int:blob_id>")
@role_required(*SUPERVISORS)
def recording(attempt_id: int, blob_id: int) -> Response:
    """A recording part, decrypted on the fly; honours Range so the player can seek."""
    att = actions.supervised_attempt(user(), attempt_id)
    blob = review_service.recording_part(att, blob_id)
    start, end = 0, None
    rng = request.range
    # One byte range is served as asked (a suffix range "-N" too); other units or several ranges get it all.
    partial = rng is not None and rng.units == "bytes" and len(rng.ranges) == 1
    if partial:
        start, stop = rng.ranges[0]  # type: ignore[union-attr]
        end = None if stop is None else stop - 1
    if start == 0:
        review_service.log_access(att, user(), blob.id, utcnow())
    data, size, start = review_service.read_range(blob, start, end)
    if partial and start >= size:
        raise RequestedRangeNotSatisfiable(length=size)
    resp = make_response(data, 206 if partial else 200)
    resp.headers["Content-Type"] = "video/webm"
    resp.headers["Accept-Ranges"] = "bytes"
    resp.headers["Cache-Control"] = "no-store"
    if partial:
        resp.headers["Content-Range"] = f"bytes {start}-{start + len(data) - 1}/{size}"
    return resp


@bp.post("/attempts/<int:attempt_id>/review")
@role_required(*SUPERVISORS)
def review_outcome(attempt_id: int) -> WResponse:
    """Clean or findings, with a note."""
    att = actions.supervised_attempt(user(), attempt_id)
    review_service.record_review(att, user(), request.form.get("outcome", ""), request.form.get("note", ""),
                                 utcnow())
    return redirect(url_for("proctor.review", attempt_id=att.id))


@api.route("/attempts/<int:attempt_id>/chat", methods=["GET", "POST"])
@role_required(*SUPERVISORS)
def chat(attempt_id: int) -> Response:
    """The proctor's side of the chat."""
    from proctoring import chat as chat_service

    att = actions.supervised_attempt(user(), attempt_id)
    if request.method == "POST":
        return jsonify(chat_service.send(att, user(), str(_body().get("text", "")), utcnow()))
    return jsonify({"messages": chat_service.messages(att, request.args.get("after", default=0, type=id_arg) or 0)})


@api.post("/attempts/<int:attempt_id>/live/offer")
@role_required(*SUPERVISORS)
def watch(attempt_id: int) -> Response:
    """One click to live video and audio: the media engine relays the candidate's stream to this browser."""
    att = actions.supervised_attempt(user(), attempt_id)
    sdp = _body().get("sdp")
    answer = media_service().watch(session_id(att.id), f"viewer-{user().id}", sdp)
    return jsonify({"type": "answer", "sdp": answer})


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
    live = media_service().live(ids)
    tiles = []
    for a in attempts:
        t = actions.tile(a, now, counts.get(a.id, 0))
        at = live.get(a.id, {}).get("snapshot_at")
        t["connection"] = live.get(a.id, {}).get("state")
        t["recording"] = live.get(a.id, {}).get("recording")
        t["snapshot_age_ms"] = snapshot_age_ms(at)
        t["snapshot_url"] = None if at is None else url_for("proctor_api.snapshot", attempt_id=a.id,
                                                            t=int(at * 1000))
        tiles.append(t)
    return jsonify({"now": now.isoformat() + "Z", "attempts": tiles})


@api.get("/attempts/<int:attempt_id>/snapshot")
@role_required(*SUPERVISORS)
def snapshot(attempt_id: int) -> Response:
    """The latest snapshot of a live candidate (JPEG, never cached)."""
    att = actions.supervised_attempt(user(), attempt_id)
    snap = media_service().snapshot(att.id)
    if snap is None:
        raise NotFound("No snapshot yet.")
    resp = make_response(snap)
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
