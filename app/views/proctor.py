"""Proctors (and staff): assigned exams, the live grid, one attempt's timeline, actions."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from werkzeug.wrappers import Response as WResponse

from accounts.models import Role
from app.access import role_required, user
from app.ids import id_arg
from app.streaming import byte_range
from exams.attempts import timeline
from exams.catalog import exams_for
from exams.models import Attempt
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import Conflict, NotFound, ValidationFailed
from proctoring import accommodations, actions, roomscan
from proctoring import review as review_service
from proctoring.flag_labels import flag_label, status_label
from proctoring.flags import flag_of, flags_of, resolve_flag
from proctoring.media import media as media_service
from proctoring.media import snapshot_age_ms
from proctoring.models import Flag, FlagStatus
from proctoring.phone_events import phone_states
from proctoring.screen import screen_states
from proctoring.sessions import session_id

bp = Blueprint("proctor", __name__, url_prefix="/proctor")
api = Blueprint("proctor_api", __name__, url_prefix="/api/proctor")
SUPERVISORS = (Role.PROCTOR, Role.STAFF)
bp.add_app_template_global(flag_label, "flag_label")
bp.add_app_template_global(status_label, "flag_status_label")


@bp.get("/")
@role_required(Role.PROCTOR)
def home() -> str:
    """Today's sessions with live counts, and one click each to the grid and the queues where work waits."""
    from idcheck.manual import waiting_count
    from idcheck.verification import review_queue

    now = utcnow()
    return render_template("proctor/home.html", exams=exams_for(user()),
                           today=review_service.today_sessions(user(), now),
                           manual_waiting=waiting_count(user(), now), review_waiting=len(review_queue(user())),
                           sessions_to_review=len(review_service.review_queue(user(), now)))


@bp.get("/reviews")
@role_required(*SUPERVISORS)
def reviews() -> str:
    """Ended attempts waiting for a review: most open flags first, with the time each waits."""
    return render_template("proctor/reviews.html", rows=review_service.review_queue(user(), utcnow()))


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
    """Timeline (chat text and snapshots in it), flags and recording playback of an ended attempt, with the
    outcome form."""
    from proctoring import chat as chat_service
    from proctoring import timeline_labels as labels

    me, now = user(), utcnow()
    att = actions.supervised_attempt(me, attempt_id)
    entries = review_service.review_timeline(timeline(att), chat_service.read_by_staff(att, me, now),
                                             review_service.snapshots_of(att))
    tz_name = getattr(att.exam.institution, "time_zone", None) or "Europe/Berlin"
    zone = ZoneInfo(tz_name)

    def local(at: dt.datetime) -> str:
        shown = at.replace(tzinfo=dt.UTC).astimezone(zone)
        return shown.strftime("%H:%M:%S" if shown.date() == now.replace(tzinfo=dt.UTC).astimezone(zone).date()
                              else "%d.%m.%Y %H:%M:%S")

    from exams.grading import oral_items

    return render_template("proctor/review.html", attempt=att, entries=entries, flags=flags_of(att),
                           parts=review_service.parts_for_review(att), local=local, tz_name=tz_name,
                           phone_parts=review_service.phone_parts_for_review(att),
                           oral_items=oral_items(att) if att.exam.oral else [],
                           status_label=labels.status_label(att.status.value),
                           outcome_label=labels.outcome_label(att.review_outcome))


@bp.get("/attempts/<int:attempt_id>/snapshots/<int:blob_id>")
@role_required(*SUPERVISORS)
def stored_snapshot(attempt_id: int, blob_id: int) -> Response:
    """One stored snapshot of the attempt (JPEG, decrypted on the fly, never cached)."""
    att = actions.supervised_attempt(user(), attempt_id)
    return _jpeg(review_service.snapshot_bytes(att, user(), blob_id, utcnow()))


@bp.get("/attempts/<int:attempt_id>/recordings/<int:blob_id>")
@role_required(*SUPERVISORS)
def recording(attempt_id: int, blob_id: int) -> Response:
    """A recording part (its seekable copy once made; ``?track=screen``: the copy of the candidate's screen),
    decrypted on the fly and streamed segment by segment whatever the range; honours one byte range so the
    player can seek. Every opening is audited."""
    att = actions.supervised_attempt(user(), attempt_id)
    blob = review_service.recording_part(att, blob_id)
    reader = review_service.open_for_playback(att, user(), blob, utcnow(),
                                              screen=request.args.get("track") == "screen")
    size = reader.plaintext_size
    start, stop, partial = byte_range(request.range, size)
    resp = Response(reader.iter_range(start, stop - start), 206 if partial else 200, mimetype="video/webm",
                    direct_passthrough=True)
    resp.headers["Content-Length"] = str(stop - start)
    resp.headers["Accept-Ranges"] = "bytes"
    resp.headers["Cache-Control"] = "no-store"
    if partial:
        resp.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    return resp


@bp.post("/attempts/<int:attempt_id>/review")
@role_required(*SUPERVISORS)
def review_outcome(attempt_id: int) -> WResponse:
    """Clean or findings, with a note."""
    att = actions.supervised_attempt(user(), attempt_id)
    review_service.record_review(att, user(), request.form.get("outcome", ""), request.form.get("note", ""),
                                 utcnow())
    return redirect(url_for("proctor.review", attempt_id=att.id))


@bp.post("/attempts/<int:attempt_id>/flags/<int:flag_id>")
@role_required(*SUPERVISORS)
def flag_decision(attempt_id: int, flag_id: int) -> WResponse:
    """Confirm or dismiss a flag with a note, from the review page (a refusal is shown there)."""
    from flask import flash

    att = actions.supervised_attempt(user(), attempt_id)
    try:
        _decide(att, flag_id, request.form.to_dict())
    except (ValidationFailed, Conflict) as err:
        flash(err.message)
    back = "proctor.review" if request.form.get("back") == "review" else "proctor.attempt"
    return redirect(url_for(back, attempt_id=att.id) + f"#flag-{flag_id}")


@api.post("/attempts/<int:attempt_id>/flags/<int:flag_id>")
@role_required(*SUPERVISORS)
def flag_decision_api(attempt_id: int, flag_id: int) -> Response:
    """Confirm or dismiss a flag with a note, from the live tile: ``{"decision": "confirm"|"dismiss", "note"}``."""
    att = actions.supervised_attempt(user(), attempt_id)
    flag = _decide(att, flag_id, _body())
    return jsonify({"id": flag.id, "status": flag.status.value, "label": status_label(flag.status)})


def _decide(att: Attempt, flag_id: int, body: Mapping[str, object]) -> Flag:
    flag_of(att, flag_id)  # another attempt's flag is not found before anything else is said about the request
    decision = str(body.get("decision", ""))
    if decision not in ("confirm", "dismiss"):
        raise ValidationFailed(_("Choose confirm or dismiss."), fields={"decision": "confirm or dismiss"})
    return resolve_flag(flag_id, att, user(), decision == "confirm", str(body.get("note", "")), utcnow())


@api.route("/attempts/<int:attempt_id>/chat", methods=["GET", "POST"])
@role_required(*SUPERVISORS)
def chat(attempt_id: int) -> Response:
    """The proctor's side of the chat."""
    from proctoring import chat as chat_service

    att = actions.supervised_attempt(user(), attempt_id)
    if request.method == "POST":
        from app.views.attempts import limit_chat

        limit_chat(att.id)
        return jsonify(chat_service.send(att, user(), str(_body().get("text", "")), utcnow()))
    after = request.args.get("after", default=0, type=id_arg) or 0
    return jsonify({"messages": chat_service.read_by_staff(att, user(), utcnow(), after)})


@api.post("/attempts/<int:attempt_id>/live/offer")
@role_required(*SUPERVISORS)
def watch(attempt_id: int) -> Response:
    """One click to live video and audio: the media engine relays the candidate's stream to this browser. The
    reply is the engine's answer, or on Janus its offer, which the browser answers at ``live/answer``."""
    att = actions.supervised_attempt(user(), attempt_id)
    sdp = _body().get("sdp")
    return jsonify(media_service().watch(session_id(att.id), f"viewer-{user().id}", sdp))


@api.post("/attempts/<int:attempt_id>/live/answer")
@role_required(*SUPERVISORS)
def watch_answer(attempt_id: int) -> Response:
    """The browser's answer where the media server offered (Janus): the live view starts."""
    att = actions.supervised_attempt(user(), attempt_id)
    media_service().watch_answer(session_id(att.id), f"viewer-{user().id}", _body().get("sdp"))
    return jsonify({"started": True})


@api.post("/attempts/<int:attempt_id>/oral/offer")
@role_required(*SUPERVISORS)
def oral_join(attempt_id: int) -> Response:
    """The examiner of an oral exam joins the candidate's call with camera and microphone (issue 19)."""
    att = actions.supervised_attempt(user(), attempt_id)
    if not att.exam.oral or att.status.value != "in_progress":
        raise NotFound("This attempt has no oral exam going on.")
    return _joined(att.id, f"examiner-{user().id}")


def _joined(attempt_id: int, examiner: str) -> Response:
    """Join the call with the body's offer; the answer, and where the media server sends the candidate on a
    connection of its own (the Janus plane), its offer as ``receive`` (the browser answers it at ``.../receive``)."""
    service = media_service()
    answer = service.join(session_id(attempt_id), examiner, _body().get("sdp"))
    body: dict[str, Any] = {"type": "answer", "sdp": answer}
    offer = service.receive(session_id(attempt_id), examiner)
    if offer is not None:
        body["receive"] = {"type": "offer", "sdp": offer}
    return jsonify(body)


@api.post("/attempts/<int:attempt_id>/oral/receive")
@role_required(*SUPERVISORS)
def oral_receive(attempt_id: int) -> Response:
    """The examiner's browser answers the offer that sends it the candidate (the Janus plane, see ``_joined``)."""
    att = actions.supervised_attempt(user(), attempt_id)
    media_service().receive_answer(session_id(att.id), f"examiner-{user().id}", _body().get("sdp"))
    return jsonify({"started": True})


@api.post("/attempts/<int:attempt_id>/call/offer")
@role_required(*SUPERVISORS)
def call_join(attempt_id: int) -> Response:
    """A proctor opens a two-way call (camera and microphone) with the candidate at any time during a
    supervised exam; it is recorded with the attempt and marked on the timeline."""
    att = actions.supervised_attempt(user(), attempt_id)
    if att.status.value != "in_progress" or not att.exam.proctoring_required:
        raise Conflict(_("This attempt has already ended."))
    joined = _joined(att.id, f"proctor-{user().id}")
    actions.call_started(att, user(), utcnow())
    return joined


@api.post("/attempts/<int:attempt_id>/call/receive")
@role_required(*SUPERVISORS)
def call_receive(attempt_id: int) -> Response:
    """The proctor's browser answers the offer that sends it the candidate (the Janus plane, see ``_joined``)."""
    att = actions.supervised_attempt(user(), attempt_id)
    media_service().receive_answer(session_id(att.id), f"proctor-{user().id}", _body().get("sdp"))
    return jsonify({"started": True})


@api.post("/attempts/<int:attempt_id>/call/end")
@role_required(*SUPERVISORS)
def call_end(attempt_id: int) -> Response:
    """The proctor hangs up (the browser closes its connection; the candidate's page is told)."""
    actions.call_ended(actions.supervised_attempt(user(), attempt_id), user(), utcnow())
    return jsonify({"ended": True})


@bp.post("/attempts/<int:attempt_id>/oral-grades")
@role_required(*SUPERVISORS)
def oral_grade(attempt_id: int) -> WResponse:
    """The examiner's points and note for one oral item, given in the review with the recording at hand."""
    from exams.grading import grade_oral

    att = actions.supervised_attempt(user(), attempt_id)
    try:
        points = int(request.form.get("points", ""))
    except ValueError:
        raise ValidationFailed("Enter the points as a whole number.", fields={"points": "not a number"}) from None
    grade_oral(att, user(), request.form.get("question_id", ""), points, request.form.get("note", ""), utcnow())
    return redirect(url_for("proctor.review", attempt_id=att.id) + "#oral-grading")


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
    screens = screen_states([a.id for a in attempts if a.exam.screen_capture])
    phones = phone_states([a.id for a in attempts if a.exam.second_camera])
    open_flags = _open_flags(ids)
    granted = accommodations.for_tile(attempts)
    room_scans = roomscan.live_states(attempts)  # issue 29: "Room scan in progress" on the tile
    tiles = []
    for a in attempts:
        t = actions.tile(a, now, counts.get(a.id, 0))
        t["flags"] = open_flags.get(a.id, [])
        t["accommodation"] = granted.get(a.id)
        t["room_scan"] = room_scans.get(a.id)
        at = live.get(a.id, {}).get("snapshot_at")
        t["connection"] = live.get(a.id, {}).get("state")
        t["recording"] = live.get(a.id, {}).get("recording")
        t["snapshot_age_ms"] = snapshot_age_ms(at)
        t["screen"] = screens.get(a.id, "stopped") if a.exam.screen_capture else None  # issue 19
        t["screen_url"] = (url_for("proctor_api.screen_snapshot", attempt_id=a.id, t=int(time.time()))
                           if a.exam.screen_capture and t["screen"] == "shared" else None)
        if a.exam.second_camera:  # the phone, the second camera (issue 29): its state and picture
            t["phone"] = phones.get(a.id, "stopped")
            t["phone_url"] = (url_for("proctor_api.phone_snapshot", attempt_id=a.id, t=int(time.time()))
                              if t["phone"] == "streaming" else None)
        t["snapshot_url"] = None if at is None else url_for("proctor_api.snapshot", attempt_id=a.id,
                                                            t=int(at * 1000))
        tiles.append(t)
    return jsonify({"now": now.isoformat() + "Z", "attempts": actions.order_by_alerts(tiles, now)})


@api.get("/attempts/<int:attempt_id>/screen")
@role_required(*SUPERVISORS)
def screen_snapshot(attempt_id: int) -> Response:
    """The latest thumbnail of a live candidate's shared screen (JPEG, never cached)."""
    att = actions.supervised_attempt(user(), attempt_id)
    snap = media_service().screen_snapshot(att.id)
    if snap is None:
        raise NotFound("No picture of the screen yet.")
    return _jpeg(snap)


@api.get("/attempts/<int:attempt_id>/phone")
@role_required(*SUPERVISORS)
def phone_snapshot(attempt_id: int) -> Response:
    """The latest picture of a live candidate's phone, the second camera (JPEG, never cached)."""
    att = actions.supervised_attempt(user(), attempt_id)
    snap = media_service().phone_snapshot(att.id)
    if snap is None:
        raise NotFound("No picture of the phone yet.")
    return _jpeg(snap)


@api.get("/attempts/<int:attempt_id>/snapshot")
@role_required(*SUPERVISORS)
def snapshot(attempt_id: int) -> Response:
    """The latest snapshot of a live candidate (JPEG, never cached)."""
    att = actions.supervised_attempt(user(), attempt_id)
    snap = media_service().snapshot(att.id)
    if snap is None:
        raise NotFound("No snapshot yet.")
    return _jpeg(snap)


def _jpeg(data: bytes) -> Response:
    """A picture of a candidate for a supervisor: JPEG, never cached."""
    resp = make_response(data)
    resp.headers["Content-Type"] = "image/jpeg"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _open_flags(ids: list[int]) -> dict[int, list[dict[str, object]]]:
    """Open flags per attempt, newest first, in words (the tile lists them with confirm and dismiss)."""
    out: dict[int, list[dict[str, object]]] = {}
    if not ids:
        return out
    for f in db.session.scalars(select(Flag).where(Flag.attempt_id.in_(ids), Flag.status == FlagStatus.OPEN)
                                .order_by(Flag.started_at.desc())):
        out.setdefault(f.attempt_id, []).append({"id": f.id, "kind": f.kind.value, "label": flag_label(f),
                                                 "started_at": f.started_at.isoformat() + "Z"})
    return out


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
