"""The phone as the second camera: the candidate's pairing code, and the phone's own pages (no login).

The phone proves itself with the device credential it got for the single-use pairing link (a cookie limited
to ``/phone``); see ``proctoring.phone``.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from accounts.models import Role
from app.access import role_required, user
from app.qr import qr_svg
from app.ratelimit import limit
from app.views.attempts import limit_offers
from exams.catalog import get_exam_for
from kernel.clock import utcnow
from kernel.errors import ValidationFailed
from proctoring import phone as phone_service
from proctoring.phone import PairingRefused

bp = Blueprint("phone", __name__)

COOKIE = "aufsicht_phone"


@bp.post("/api/exams/<int:exam_id>/phone/pairing")
@role_required(Role.CANDIDATE)
def new_pairing(exam_id: int) -> Response:
    """A fresh pairing code for the candidate's phone (single use, valid a few minutes) as a QR image."""
    ex = get_exam_for(user(), exam_id)
    token = phone_service.issue_pairing(user(), ex, utcnow())
    link = url_for("phone.pair", token=token, _external=True)
    return jsonify({"qr": qr_svg(link), "link": link,
                    "expires_in": int(phone_service.PAIRING_TTL.total_seconds())})


@bp.get("/api/exams/<int:exam_id>/phone")
@role_required(Role.CANDIDATE)
def phone_status(exam_id: int) -> Response:
    """Whether a phone is paired and the media engine receives its camera now."""
    ex = get_exam_for(user(), exam_id)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return jsonify({"required": ex.second_camera, "paired": phone_service.paired(user().id, ex.id),
                    "used": phone_service.used_codes(user().id, ex.id),
                    "streaming": ex.second_camera and phone_service.streaming(app, user().id, ex.id)})


@bp.get("/phone/pair/<token>")
def pair(token: str) -> Response | tuple[str, int]:
    """The link in the QR code: spent once; the phone gets its credential and goes to the camera page."""
    try:
        _pairing, device = phone_service.use_pairing(token, utcnow())
    except PairingRefused as err:
        return _refused(err)
    resp = redirect(url_for("phone.camera"))
    resp.set_cookie(COOKIE, device, max_age=12 * 3600, path="/phone", httponly=True, samesite="Lax",
                    secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return resp


@bp.get("/phone/camera")
def camera() -> str | tuple[str, int]:
    """The phone's page: where to put it, its camera streaming to the media engine."""
    try:
        pairing = phone_service.device_pairing(request.cookies.get(COOKIE))
        state = phone_service.phone_state(pairing)
    except PairingRefused as err:
        return _refused(err)
    from exams.models import Exam
    from kernel.db import db

    return render_template("phone/camera.html", exam=db.session.get(Exam, pairing.exam_id), state=state,
                           ice=current_app.config["MEDIA_ICE_SERVERS"])


@bp.get("/phone/state")
def state() -> Response | tuple[Response, int]:
    """Where the paired phone stands (it reconnects into the attempt's recording once the exam starts)."""
    try:
        found = phone_service.phone_state(phone_service.device_pairing(request.cookies.get(COOKIE)))
    except PairingRefused as err:
        return _refused_json(err)
    return jsonify({"state": found.state, "session": found.session})


@bp.post("/phone/offer")
def offer() -> Response | tuple[Response, int]:
    """WebRTC signalling of the phone's camera (VP8 only; recorded with the attempt once it runs)."""
    try:
        pairing = phone_service.device_pairing(request.cookies.get(COOKIE))
        limit_offers(f"offer:phone:{pairing.id}")
        body = request.get_json(silent=True)
        sdp = body.get("sdp") if isinstance(body, dict) else None
        answer = phone_service.answer_phone_offer(current_app._get_current_object(),  # type: ignore[attr-defined]
                                                  pairing, sdp)
    except PairingRefused as err:
        return _refused_json(err)
    return jsonify({"type": "answer", "sdp": answer})


@bp.post("/phone/events")
def events() -> Response | tuple[Response, int]:
    """The phone's page says its camera stopped (``{"type": "camera_lost"}``) where its data channel does not carry
    it (Janus, or the channel closed): the same ``phone_lost`` flag as over the data channel, at the server's time."""
    from proctoring.phone_events import PHONE_PAGE_EVENTS, on_engine_event

    request.max_content_length = 1024
    try:
        found = phone_service.phone_state(phone_service.device_pairing(request.cookies.get(COOKIE)))
    except PairingRefused as err:
        return _refused_json(err)
    body = request.get_json(silent=True)
    kind = body.get("type") if isinstance(body, dict) else None
    if not isinstance(kind, str) or kind not in PHONE_PAGE_EVENTS:
        raise ValidationFailed(_("Unknown event."), fields={"type": "unknown"})
    limit(f"phoneevents:{found.session}", 10)
    recorded = found.attempt_id is not None and on_engine_event(
        current_app._get_current_object(), found.attempt_id,  # type: ignore[attr-defined]
        {"type": kind, "origin": "browser"})
    return jsonify({"recorded": int(recorded)})


def _refused(err: PairingRefused) -> tuple[str, int]:
    return render_template("phone/refused.html", message=err.message, reason=err.reason), err.status


def _refused_json(err: PairingRefused) -> tuple[Response, int]:
    return jsonify({"error": {"code": err.code, "message": err.message, "reason": err.reason}}), err.status
