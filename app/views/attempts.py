"""Taking an exam: landing page, start, the exam page, autosave API, submit, result."""

from __future__ import annotations

import contextlib
from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from accounts.models import Role
from app.access import role_required, user
from app.ids import id_arg
from app.localtime import localtime
from app.pictures import picture_urls
from app.ratelimit import limit
from app.streaming import byte_range, stream_inline
from exams import itemmedia, lockdown, stimuli
from exams.appeals import appeal_open, appeals_of, file_appeal
from exams.attempts import (
    AttemptClosed,
    GateNotPassed,
    check_attempt_gates,
    get_attempt_for,
    questions_for,
    remaining_seconds,
    save_answer,
    start_attempt,
    start_state,
    submit_attempt,
)
from exams.catalog import get_exam_for
from exams.certificates import certificate_for_attempt, request_certificate
from exams.itemmedia import hand_in_file
from exams.models import AppealStatus, Attempt, AttemptStatus, Exam
from exams.rosters import exam_of_candidate
from exams.trust import appeal_window
from kernel.clock import utcnow
from kernel.errors import DomainError, ValidationFailed
from proctoring import systemcheck  # noqa: F401  (registers the system-check gate)

bp = Blueprint("attempts", __name__)


@bp.get("/candidate/exams/<int:exam_id>")
@role_required(Role.CANDIDATE)
def exam(exam_id: int) -> str:
    """What the exam is, its rules, and the start button."""
    from oversight.fria import detectors_in_use

    ex = get_exam_for(user(), exam_id)
    return render_template("attempts/exam.html", exam=ex, now=utcnow(), mine=exam_of_candidate(user(), ex, utcnow()),
                           checks=detectors_in_use(ex), ready=start_state(user(), ex, utcnow()), **_seb(ex))


def _seb(ex: Exam) -> dict[str, Any]:
    """What the exam page says about Safe Exam Browser: the links, and whether this browser is SEB with the keys."""
    if not ex.seb_required:
        return {}
    from app.views.lockdown import request_proof, seb_links

    return {"seb": seb_links(ex), "seb_ok": request_proof(ex) == lockdown.KeyProof.VALID}


@bp.post("/candidate/exams/<int:exam_id>/start")
@role_required(Role.CANDIDATE)
def start(exam_id: int) -> Response | tuple[str, int]:
    """Start or resume the attempt; a gate not yet passed is explained on the exam page."""
    ex = get_exam_for(user(), exam_id)
    try:
        attempt = start_attempt(user(), ex, utcnow())
    except DomainError as err:
        return render_template("attempts/exam.html", exam=ex, now=utcnow(), error=err.message,
                               mine=exam_of_candidate(user(), ex, utcnow()), ready=start_state(user(), ex, utcnow()),
                               **_seb(ex)), err.status
    lockdown.opened_in_seb(attempt)  # a SEB exam's start carried a valid key (app.views.lockdown checked it)
    return redirect(url_for("attempts.take", attempt_id=attempt.id))


@bp.get("/candidate/attempts/<int:attempt_id>")
@role_required(Role.CANDIDATE)
def take(attempt_id: int) -> str | Response:
    """The exam page with saved answers filled in; an ended attempt shows its result instead."""
    attempt = get_attempt_for(user(), attempt_id)
    if attempt.status != AttemptStatus.IN_PROGRESS or remaining_seconds(attempt, utcnow()) == 0:
        if attempt.status == AttemptStatus.IN_PROGRESS:
            submit_attempt(attempt, utcnow(), reason="submitted_at_deadline")
        return redirect(url_for("attempts.result", attempt_id=attempt.id))
    try:  # a precondition inside the attempt (the room scan before the start) shows no question yet
        check_attempt_gates(attempt)
        questions, gate = questions_for(attempt), None
    except GateNotPassed as err:
        questions, gate = [], err.message
    return render_template("attempts/take.html", attempt=attempt, questions=questions, gate=gate,
                           stimuli=stimuli.stimuli_for(attempt) if questions else {},
                           pictures=picture_urls(attempt, utcnow()) if questions else {},
                           remaining=remaining_seconds(attempt, utcnow()))


@bp.get("/api/attempts/<int:attempt_id>")
@role_required(Role.CANDIDATE)
def state(attempt_id: int) -> Response:
    """Status and remaining time by the server's clock (the page re-syncs its timer with this)."""
    attempt = get_attempt_for(user(), attempt_id)
    return jsonify(_state(attempt))


def _state(attempt: Attempt) -> dict[str, Any]:
    return {"id": attempt.id, "status": attempt.status.value,
            "remaining_seconds": remaining_seconds(attempt, utcnow())}


@bp.get("/api/attempts/<int:attempt_id>/notices")
@role_required(Role.CANDIDATE)
def notices(attempt_id: int) -> Response:
    """Warnings, pauses, added time and termination since ``after`` (the page polls this)."""
    from proctoring.actions import notices_for_candidate

    attempt = get_attempt_for(user(), attempt_id)
    after = request.args.get("after", default=0, type=id_arg) or 0
    return jsonify({**_state(attempt), "paused": attempt.paused_at is not None,
                    "notices": notices_for_candidate(attempt, after)})


@bp.get("/candidate/exams/<int:exam_id>/system-check")
@role_required(Role.CANDIDATE)
def system_check(exam_id: int) -> str:
    """Camera, microphone and connection test before a supervised exam."""
    from flask import current_app

    from proctoring.systemcheck import passed_recently

    ex = get_exam_for(user(), exam_id)
    return render_template("attempts/system_check.html", exam=ex, passed=passed_recently(user(), ex, utcnow()),
                           ice=current_app.config["MEDIA_ICE_SERVERS"])


@bp.post("/api/exams/<int:exam_id>/system-check/offer")
@role_required(Role.CANDIDATE)
def system_check_offer(exam_id: int) -> Response:
    """Signalling for the connection test (nothing is recorded)."""
    from flask import current_app

    from proctoring.systemcheck import answer_offer

    ex = get_exam_for(user(), exam_id)
    limit_offers(f"offer:check:{user().id}")
    body = request.get_json(silent=True)
    sdp = body.get("sdp") if isinstance(body, dict) else None
    return jsonify({"type": "answer", "sdp": answer_offer(current_app._get_current_object(),  # type: ignore[attr-defined]
                                                          user(), ex, sdp)})


@bp.post("/api/exams/<int:exam_id>/system-check/confirm")
@role_required(Role.CANDIDATE)
def system_check_confirm(exam_id: int) -> Response:
    """The check passes only if the engine really received video and audio."""
    from flask import current_app

    from proctoring.systemcheck import confirm

    ex = get_exam_for(user(), exam_id)
    check = confirm(current_app._get_current_object(), user(), ex, utcnow())  # type: ignore[attr-defined]
    return jsonify({"passed": True, "path": (check.detail or {}).get("path")})


@bp.route("/api/attempts/<int:attempt_id>/chat", methods=["GET", "POST"])
@role_required(Role.CANDIDATE)
def chat(attempt_id: int) -> Response:
    """The candidate's side of the chat: read (``?after=``) or send ``{"text": ...}``."""
    from proctoring import chat as chat_service

    attempt = get_attempt_for(user(), attempt_id)
    if request.method == "POST":
        limit_chat(attempt.id)
        body = request.get_json(silent=True)
        text = body.get("text") if isinstance(body, dict) else None
        return jsonify(chat_service.send(attempt, user(), str(text or ""), utcnow()))
    return jsonify({"messages": chat_service.messages(attempt, request.args.get("after", default=0, type=id_arg) or 0)})


@bp.post("/api/attempts/<int:attempt_id>/media/offer")
@role_required(Role.CANDIDATE)
def media_offer(attempt_id: int) -> Response:
    """WebRTC signalling: the browser's offer in, our media engine's answer out (recorded, encrypted)."""

    from proctoring.media import media
    from proctoring.sessions import session_id

    attempt = get_attempt_for(user(), attempt_id)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise AttemptClosed("This attempt has ended.")
    limit_offers(f"offer:attempt:{attempt.id}")
    body = request.get_json(silent=True)
    sdp = body.get("sdp") if isinstance(body, dict) else None
    answer_sdp = media().offer(session_id(attempt.id), sdp,
                               (attempt.id, attempt.user_id, attempt.exam.institution_id),
                               # every supervised session can take a proctor's call (issue 29), not only orals
                               screen=attempt.exam.screen_capture, oral=True)
    return jsonify({"type": "answer", "sdp": answer_sdp})


@bp.post("/api/attempts/<int:attempt_id>/media/receive")
@role_required(Role.CANDIDATE)
def media_receive(attempt_id: int) -> Response:
    """The examiner (or a proctor who calls) on a connection of its own, where the media plane sends a call that
    way (Janus: a subscriber, whose offer comes from the server). Without ``sdp``: the offer, ``{"receive": false}``
    where the call comes on the camera's own connection (aiortc), ``{"wait": true}`` while nobody calls (the page
    asks again); with ``sdp``: the browser's answer to that offer."""
    from proctoring.engine import NotLive
    from proctoring.media import media
    from proctoring.sessions import session_id

    attempt = get_attempt_for(user(), attempt_id)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise AttemptClosed("This attempt has ended.")
    body = request.get_json(silent=True)
    if isinstance(body, dict) and "sdp" in body:
        limit_offers(f"receive:attempt:{attempt.id}")
        media().receive_answer(session_id(attempt.id), "candidate", body.get("sdp"))
        return jsonify({"started": True})
    try:
        offer = media().receive(session_id(attempt.id), "candidate")
    except NotLive:
        return jsonify({"wait": True})
    if offer is None:
        return jsonify({"receive": False})
    return jsonify({"type": "offer", "sdp": offer})


#: The largest body of the page's events (20 events of a few dozen bytes each fit many times over).
PAGE_EVENTS_MAX_BYTES = 8192


@bp.post("/api/attempts/<int:attempt_id>/events")
@role_required(Role.CANDIDATE)
def page_events(attempt_id: int) -> Response:
    """The exam page's events (tab hidden, fullscreen left, copy, ...) where the data channel does not carry them:
    ``{"events": [{"type": ..., "at": ...}]}`` in the page's order, each stamped with the server's time on arrival
    (the page's ``at`` is not used). The same meaning as over the data channel (``proctoring.page_events``)."""
    from proctoring.page_events import PAGE_EVENTS, apply_event

    request.max_content_length = PAGE_EVENTS_MAX_BYTES  # a longer body is never read (a chunked one: cut off)
    if (request.content_length or 0) > PAGE_EVENTS_MAX_BYTES:
        raise RequestEntityTooLarge()
    attempt = get_attempt_for(user(), attempt_id)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise AttemptClosed(_("This attempt has ended."))
    events = _page_events_of(request.get_json(silent=True), PAGE_EVENTS,
                             int(current_app.config["PAGE_EVENTS_PER_REQUEST"]))
    limit(f"pageevents:{attempt.id}", int(current_app.config["PAGE_EVENTS_PER_MINUTE"]), cost=len(events),
          message=_("Too many events from this page. They are sent again in a minute."))
    recorded = sum(apply_event(attempt, event, "browser", utcnow()) for event in events)
    return jsonify({"recorded": recorded})


def _page_events_of(body: object, kinds: frozenset[str], most: int) -> list[dict[str, Any]]:
    """The events of a request body, checked whole before any is recorded (one bad event refuses all)."""
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list) or not 1 <= len(events) <= most:
        raise ValidationFailed(_('Send a JSON object {"events": [...]} with 1 to %(n)d events.', n=most),
                               fields={"events": "invalid"})
    out = []
    for event in events:
        kind = event.get("type") if isinstance(event, dict) else None
        if not isinstance(kind, str) or kind not in kinds:
            raise ValidationFailed(_("Unknown event."), fields={"events": "unknown"})
        surface = event.get("surface")
        out.append({"type": kind, **({"surface": surface} if isinstance(surface, str) else {})})
    return out


@bp.put("/api/attempts/<int:attempt_id>/answers/<question_id>")
@role_required(Role.CANDIDATE)
def answer(attempt_id: int, question_id: str) -> Response:
    """Autosave one answer: ``{"value": ...}``."""
    attempt = get_attempt_for(user(), attempt_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "value" not in body:
        raise ValidationFailed('Send a JSON object {"value": ...}.', fields={"value": "missing"})
    saved = save_answer(attempt, question_id, body["value"], utcnow())
    return jsonify({"question_id": question_id, "saved_at": saved.saved_at.isoformat() + "Z", **_state(attempt)})


@bp.post("/api/attempts/<int:attempt_id>/files/<question_id>")
@role_required(Role.CANDIDATE)
def hand_in(attempt_id: int, question_id: str) -> Response:
    """Hand in the file of an upload item (multipart field ``file``)."""
    attempt = get_attempt_for(user(), attempt_id)
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed(_("Choose a file to hand in."), fields={"file": "missing"})
    with upload.stream:  # a large upload is spooled to a temporary file: closed at once
        limit = current_app.config["ANSWER_FILE_MAX_BYTES"]
        data = upload.read(limit + 1)
    saved = hand_in_file(attempt, question_id, data, upload.filename or "", utcnow(), max_bytes=limit)
    return jsonify({"question_id": question_id, "saved_at": saved.saved_at.isoformat() + "Z", **_state(attempt)})


@bp.get("/candidate/attempts/<int:attempt_id>/images/<question_id>")
@role_required(Role.CANDIDATE)
def item_image(attempt_id: int, question_id: str) -> Response:
    """The image of a hotspot item of the candidate's own attempt."""
    image = itemmedia.image_of_attempt(get_attempt_for(user(), attempt_id), question_id)
    return Response(itemmedia.image_bytes(image), mimetype=image.content_type,
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


@bp.get("/candidate/attempts/<int:attempt_id>/media/<question_id>")
@role_required(Role.CANDIDATE)
def stimulus(attempt_id: int, question_id: str) -> Response:
    """The image, audio or video of an item of the candidate's running attempt, with ranges for seeking; a
    limited one only with the ticket of its current play (``?play=``), each byte counted against that play."""
    attempt = get_attempt_for(user(), attempt_id)
    check_attempt_gates(attempt)  # nothing of the exam before its preconditions (the room scan) are met
    found = stimuli.open_for_candidate(attempt, question_id, request.args.get("play"), utcnow())
    reader = stimuli.open_file(found.stimulus)
    start, stop, partial = byte_range(request.range, reader.plaintext_size)
    if found.play_id is not None and request.method != "HEAD":  # HEAD sends no bytes: nothing to count
        stimuli.charge_play(found.play_id, stop - start)
    return stream_inline(reader, found.stimulus.content_type, start, stop, partial)


@bp.post("/api/attempts/<int:attempt_id>/media/<question_id>/plays")
@role_required(Role.CANDIDATE)
def play(attempt_id: int, question_id: str) -> Response:
    """Start the next play of an item's limited audio or video: its URL, and the plays allowed and left
    (409 ``plays_used_up`` once all are used)."""
    attempt = get_attempt_for(user(), attempt_id)
    check_attempt_gates(attempt)
    granted = stimuli.grant_play(attempt, question_id, utcnow())
    return jsonify({"url": url_for("attempts.stimulus", attempt_id=attempt_id, question_id=question_id,
                                   play=granted.ticket),
                    "play": granted.number, "plays": granted.allowed, "left": granted.left})


@bp.post("/api/attempts/<int:attempt_id>/submit")
@role_required(Role.CANDIDATE)
def submit_api(attempt_id: int) -> Response:
    """Submit (idempotent)."""
    attempt = submit_attempt(get_attempt_for(user(), attempt_id), utcnow())
    end_media(attempt.id)
    return jsonify(_state(attempt))


@bp.post("/candidate/attempts/<int:attempt_id>/submit")
@role_required(Role.CANDIDATE)
def submit(attempt_id: int) -> Response:
    """Submit from the form (also what the page does when the timer reaches zero)."""
    attempt = submit_attempt(get_attempt_for(user(), attempt_id), utcnow())
    end_media(attempt_id)
    if attempt.exam.seb_required:  # SEB quits at its quit link; the page there leads to the result
        return redirect(url_for("lockdown.quit_page", exam_id=attempt.exam_id))
    return redirect(url_for("attempts.result", attempt_id=attempt_id))


def limit_chat(attempt_id: int) -> None:
    """Chat messages per person and attempt a minute (each one is a stored, encrypted file)."""
    from flask import current_app

    limit(f"chat:{user().id}:{attempt_id}", int(current_app.config["CHAT_MESSAGES_PER_MINUTE"]),
          message=_("You are sending messages very fast. Please wait a minute."))


def limit_offers(key: str) -> None:
    """A browser reconnects a few times a minute at most; a loop of offers (each a peer connection and a
    recording part on the engine) is refused."""
    from flask import current_app

    limit(key, int(current_app.config["MEDIA_OFFERS_PER_MINUTE"]),
          message=_("Too many connection attempts. The connection is tried again in a minute; your answers are "
                    "saved meanwhile."))


def end_media(attempt_id: int) -> None:
    """Hang up the attempt's media session (the recording part is finished)."""
    from proctoring.media import MediaUnavailable, media
    from proctoring.sessions import session_id

    # An engine that is gone already left the part readable up to its last full segment.
    with contextlib.suppress(MediaUnavailable):
        media().close(session_id(attempt_id))
    from flask import current_app

    from proctoring.phone import end_phone

    end_phone(current_app._get_current_object(), attempt_id)  # type: ignore[attr-defined]


@bp.get("/candidate/attempts/<int:attempt_id>/result")
@role_required(Role.CANDIDATE)
def result(attempt_id: int) -> str:
    """The attempt's status and, once released, its result, certificate and appeals."""
    return _result_page(get_attempt_for(user(), attempt_id))[0]


def _result_page(attempt: Attempt, error: str | None = None, text: str = "", status: int = 200) -> tuple[str, int]:
    now = utcnow()
    window = appeal_window(attempt)
    appeals = appeals_of(attempt)
    return render_template("attempts/result.html", attempt=attempt, appeals=appeals,
                           can_appeal=appeal_open(attempt, now), certificate=certificate_for_attempt(attempt),
                           window=window, window_open=window is not None and window.is_open(now),
                           appeal_pending=any(a.status == AppealStatus.OPEN for a in appeals),
                           error=error, text=text), status


@bp.post("/candidate/attempts/<int:attempt_id>/certificate")
@role_required(Role.CANDIDATE)
def request_certificate_now(attempt_id: int) -> Response | tuple[str, int]:
    """Get the certificate before the appeal window closes (asks once: it ends the possibility to appeal)."""
    attempt = get_attempt_for(user(), attempt_id)
    window = appeal_window(attempt)
    if request.form.get("confirm") != "yes" and window is not None and window.is_open(utcnow()):
        return render_template(
            "confirm.html", title=_("Get your certificate now and end the appeal window?"),
            consequences=[_("You can no longer appeal this result. Otherwise you could appeal until %(when)s.",
                            when=localtime(window.closes_at)),
                          _("The certificate is mailed to you now, and you can download it on the result page."),
                          _("The recordings, snapshots and chat of your exam may then be deleted.")],
            action=url_for("attempts.request_certificate_now", attempt_id=attempt.id),
            button=_("Get the certificate now"), back=url_for("attempts.result", attempt_id=attempt.id)), 200
    try:
        request_certificate(attempt, user(), utcnow())
    except DomainError as err:
        return _result_page(attempt, err.message, status=err.status)
    flash(_("Your certificate is on its way by email. This result can no longer be appealed."))
    return redirect(url_for("attempts.result", attempt_id=attempt_id))


@bp.post("/candidate/attempts/<int:attempt_id>/appeal")
@role_required(Role.CANDIDATE)
def appeal(attempt_id: int) -> Response | tuple[str, int]:
    """File an appeal against the released result."""
    attempt = get_attempt_for(user(), attempt_id)
    text = request.form.get("text", "")
    try:
        file_appeal(attempt, text, utcnow())
    except DomainError as err:
        return _result_page(attempt, err.message, text, err.status)
    flash(_("Your appeal has been filed."))
    return redirect(url_for("attempts.result", attempt_id=attempt_id))
