"""Identity check pages for candidates and the review queue for proctors and staff."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response as WResponse

from accounts.models import Role
from accounts.services import current_consent, record_consent
from app.access import role_required, user
from app.ids import id_arg
from app.localtime import viewer_timezone
from app.ratelimit import limit
from exams.catalog import get_exam_for
from idcheck import cameras, live_check, manual
from idcheck import verification as v
from idcheck.document_labels import difference_words, document_rows
from idcheck.reason_words import reason_words
from kernel.clock import utcnow
from kernel.errors import NotFound, ValidationFailed

bp = Blueprint("identity", __name__)
bp.add_app_template_global(document_rows, "document_rows")
bp.add_app_template_global(difference_words, "difference_words")


@bp.app_template_global("machine_notes")
def machine_notes(reason: str | None) -> list[str]:
    """The automatic check's notes (``IdCheck.reason``) in the reader's words, times in the viewer's zone."""
    return reason_words(reason, viewer_timezone())


MAX_FILE = 8 * 1024 * 1024


@bp.get("/candidate/exams/<int:exam_id>/identity")
@role_required(Role.CANDIDATE)
def page(exam_id: int) -> str:
    """Consent, ID photo, selfie with liveness challenge, or the check by a proctor; and the status."""
    from privacy.settings import settings_for

    exam = get_exam_for(user(), exam_id)
    check = v.check_for(user(), exam)
    return render_template("identity/check.html", exam=exam, check=check,
                           consent=current_consent(user(), "biometrics"),
                           biometric=settings_for(exam.institution_id).biometric_matching,
                           retakes_left=v.retakes_left(check) if check else None,
                           during_review=v.may_start_during_review(exam),
                           ice=current_app.config["MEDIA_ICE_SERVERS"])


@bp.post("/candidate/exams/<int:exam_id>/identity/consent")
@role_required(Role.CANDIDATE)
def consent(exam_id: int) -> WResponse:
    """Give biometric consent, or choose the check by a proctor instead."""
    exam = get_exam_for(user(), exam_id)
    if request.form.get("granted") == "yes":
        record_consent(user(), "biometrics", current_app.config["PRIVACY_NOTICE_VERSION"], True)
        v.start_check(user(), exam)
    else:
        v.choose_manual_check(user(), exam, utcnow())
    return redirect(url_for("identity.page", exam_id=exam_id))


@bp.post("/candidate/exams/<int:exam_id>/identity/manual")
@role_required(Role.CANDIDATE)
def choose_manual(exam_id: int) -> WResponse:
    """The check by a proctor where the institution does not match faces automatically."""
    v.choose_manual_check(user(), get_exam_for(user(), exam_id), utcnow(), declined=False)
    return redirect(url_for("identity.page", exam_id=exam_id))


@bp.post("/api/identity/<int:exam_id>/live/offer")
@role_required(Role.CANDIDATE)
def live_offer(exam_id: int) -> Response:
    """Connect the camera for the proctor's comparison with the ID document (nothing is recorded)."""
    from app.views.attempts import limit_offers

    check = manual.waiting_check(user(), get_exam_for(user(), exam_id))
    limit_offers(f"offer:identity:{check.id}")
    body = request.get_json(silent=True)
    sdp = body.get("sdp") if isinstance(body, dict) else None
    return jsonify({"type": "answer", "sdp": manual.connect(current_app._get_current_object(),  # type: ignore[attr-defined]
                                                            check, sdp)})


@bp.post("/api/identity/<int:exam_id>/live/receive")
@role_required(Role.CANDIDATE)
def live_receive(exam_id: int) -> Response:
    """The proctor who calls, on a connection of its own where the media plane sends a call that way (Janus):
    without ``sdp`` its offer (or ``wait``, or ``receive: false`` on aiortc), with ``sdp`` the browser's answer."""
    from app.views.attempts import limit_offers

    check = manual.waiting_check(user(), get_exam_for(user(), exam_id))
    body = request.get_json(silent=True)
    sdp = body.get("sdp") if isinstance(body, dict) else None
    if sdp is not None:
        limit_offers(f"receive:identity:{check.id}")
    return jsonify(manual.receive(current_app._get_current_object(), check, "candidate", sdp))  # type: ignore[attr-defined]


@bp.route("/api/identity/<int:exam_id>/chat", methods=["GET", "POST"])
@role_required(Role.CANDIDATE)
def chat(exam_id: int) -> Response:
    """The candidate's side of the chat in the check by a proctor: read (``?after=``) or send ``{"text": ...}``."""
    check = manual.waiting_check(user(), get_exam_for(user(), exam_id))
    return _chat(check, from_proctor=False)


@bp.route("/api/proctor/identity/<int:check_id>/chat", methods=["GET", "POST"])
@role_required(Role.PROCTOR, Role.STAFF)
def manual_chat(check_id: int) -> Response:
    """The proctor's side of the chat in the check by a proctor (only the exam's proctors and office)."""
    return _chat(manual.supervised_check(user(), check_id), from_proctor=True)


def _chat(check: v.IdCheck, *, from_proctor: bool) -> Response:
    from idcheck import chat as chat_service

    if request.method == "POST":
        limit(f"idchat:{user().id}:{check.id}", int(current_app.config["CHAT_MESSAGES_PER_MINUTE"]),
              message=_("You are sending messages very fast. Please wait a minute."))
        body = request.get_json(silent=True)
        text = body.get("text") if isinstance(body, dict) else None
        return jsonify(chat_service.send(check, user(), str(text or ""), utcnow(), from_proctor=from_proctor))
    return jsonify({"messages": chat_service.messages(check, request.args.get("after", default=0, type=id_arg) or 0)})


@bp.get("/api/identity/<int:exam_id>")
@role_required(Role.CANDIDATE)
def status(exam_id: int) -> Response:
    """The check's status (the page polls this while the photos are checked)."""
    return jsonify(v.status_json(v.check_for(user(), get_exam_for(user(), exam_id))))


def _check(exam_id: int) -> tuple[v.IdCheck, v.Exam]:
    exam = get_exam_for(user(), exam_id)
    return v.start_check(user(), exam), exam


def _file_bytes(field: str) -> list[bytes]:
    files = request.files.getlist(field)
    if not files:
        raise ValidationFailed("No file was sent.", fields={field: "missing"})
    return [f.read(MAX_FILE + 1) for f in files]


@bp.post("/api/identity/<int:exam_id>/document")
@role_required(Role.CANDIDATE)
def document(exam_id: int) -> Response:
    """Upload the photo of the ID document's photo page (and, for an ID card, of its back with the MRZ)."""
    check, exam = _check(exam_id)
    back = _file_bytes("back")[0] if request.files.get("back") else None
    v.upload_id_document(check, exam, _file_bytes("file")[0], request.form.get("mrz"), back=back or None)
    return jsonify(v.status_json(check))


@bp.post("/api/identity/<int:exam_id>/camera/offer")
@role_required(Role.CANDIDATE)
def camera_offer(exam_id: int) -> Response:
    """Connect the camera to the media engine for the live head-movement challenge (nothing is recorded)."""
    from app.views.attempts import limit_offers

    check = live_check.camera_check(user(), get_exam_for(user(), exam_id))
    limit_offers(f"offer:liveness:{check.id}")  # each offer is a peer connection on the engine, like the others
    body = request.get_json(silent=True)
    sdp, camera = (body.get("sdp"), body.get("camera")) if isinstance(body, dict) else (None, None)
    return jsonify({"type": "answer", "sdp": live_check.connect_camera(current_app._get_current_object(),  # type: ignore[attr-defined]
                                                                       check, sdp, camera)})


@bp.post("/api/identity/<int:exam_id>/liveness")
@role_required(Role.CANDIDATE)
def liveness_start(exam_id: int) -> Response:
    """Start the challenge on the connected camera: the server draws the moves and times them."""
    check = live_check.camera_check(user(), get_exam_for(user(), exam_id))
    return jsonify(live_check.start_challenge(current_app._get_current_object(), check, utcnow()))  # type: ignore[attr-defined]


@bp.get("/api/identity/<int:exam_id>/liveness")
@role_required(Role.CANDIDATE)
def liveness_prompt(exam_id: int) -> Response:
    """The move to make now (only the current one), for the page that asks a few times a second."""
    check = v.check_for(user(), get_exam_for(user(), exam_id))
    if check is None:
        raise NotFound()
    return jsonify(v.live_prompt(check, utcnow()))


@bp.get("/review/identity")
@role_required(Role.PROCTOR, Role.STAFF)
def queue() -> str:
    """Checks waiting for a person."""
    return render_template("identity/queue.html", checks=v.review_queue(user()))


@bp.get("/review/identity/<int:check_id>")
@role_required(Role.PROCTOR, Role.STAFF)
def review(check_id: int) -> str:
    """Registration, document fields, ID photo, selfie and head-turn frames side by side with the distance."""
    check = v.reviewable_check(user(), check_id)
    frames = v.review_frames(check) if check.status == v.IdCheckStatus.REVIEW else []
    return render_template("identity/review.html", check=check, registration=manual.registration_of(check),
                           frames=frames, moves=v.challenge_moves(check),
                           move_words=v.move_labels(), camera_words=cameras.words(check.virtual_camera))


@bp.get("/review/identity/<int:check_id>/image/<which>")
@role_required(Role.PROCTOR, Role.STAFF)
def image(check_id: int, which: str) -> Response:
    """One of the two photos, decrypted for the reviewer; never cached."""
    from privacy.rights import Access, record_access

    check = v.reviewable_check(user(), check_id)
    data = v.image_for_review(check, which)
    record_access(user(), check.user_id, Access("id_image" if which == "id" else "selfie", "identity review"),
                  utcnow())  # a head-turn frame is a selfie too
    resp = make_response(data)
    resp.headers["Content-Type"] = "image/jpeg" if data[:2] == b"\xff\xd8" else (
        "image/png" if data[:4] == b"\x89PNG" else "image/webp")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/review/identity/<int:check_id>/decide")
@role_required(Role.PROCTOR, Role.STAFF)
def decide(check_id: int) -> WResponse:
    """Verify or reject, with a reason."""
    check = v.reviewable_check(user(), check_id)
    verified = request.form.get("verified") == "yes"
    v.decide(check, user(), verified, request.form.get("reason", ""), utcnow())
    _decided(check, verified)
    return redirect(url_for("identity.queue"))


def _decided(check: v.IdCheck, confirmed: bool) -> None:
    """Say what was decided, for whom, and what follows (the queue the person returns to shows it once)."""
    name = check.user.display_name
    if confirmed:
        flash(_("Identity of %(name)s confirmed: the exam can start.", name=name))
    else:
        flash(_("Identity of %(name)s not confirmed: the exam cannot start.", name=name))


@bp.post("/review/identity/<int:check_id>/reopen")
@role_required(Role.PROCTOR, Role.STAFF)
def reopen(check_id: int) -> WResponse:
    """Reopen a rejected check, with a reason: the candidate may try again."""
    check = v.reviewable_check(user(), check_id)
    v.reopen_check(check, user(), request.form.get("reason", ""), utcnow())
    return redirect(url_for("identity.review", check_id=check_id))


@bp.get("/proctor/identity")
@role_required(Role.PROCTOR, Role.STAFF)
def manual_queue() -> str:
    """Candidates waiting for a proctor to compare face and ID (the list refreshes as they arrive)."""
    return render_template("identity/manual_queue.html", checks=manual.manual_queue(user(), utcnow()))


@bp.get("/api/proctor/identity")
@role_required(Role.PROCTOR, Role.STAFF)
def manual_queue_state() -> Response:
    """The waiting candidates, for the queue page's refresh."""
    return jsonify({"checks": manual.queue_json(current_app._get_current_object(),  # type: ignore[attr-defined]
                                                manual.manual_queue(user(), utcnow()))})


@bp.get("/proctor/identity/<int:check_id>")
@role_required(Role.PROCTOR, Role.STAFF)
def manual_check(check_id: int) -> str:
    """The live view, the registration data and the decision form of one check by a proctor."""
    check = manual.supervised_check(user(), check_id)
    return render_template("identity/manual_check.html", check=check, registration=manual.registration_of(check))


@bp.post("/api/proctor/identity/<int:check_id>/live/offer")
@role_required(Role.PROCTOR, Role.STAFF)
def manual_watch(check_id: int) -> Response:
    """Relay the waiting candidate's camera and microphone to the proctor."""
    check = manual.supervised_check(user(), check_id)
    body = request.get_json(silent=True)
    sdp = body.get("sdp") if isinstance(body, dict) else None
    return jsonify(manual.watch(current_app._get_current_object(), check, user(), sdp))  # type: ignore[attr-defined]


@bp.post("/api/proctor/identity/<int:check_id>/live/answer")
@role_required(Role.PROCTOR, Role.STAFF)
def manual_watch_answer(check_id: int) -> Response:
    """The proctor's browser answers the media server's offer (Janus): the live view starts."""
    check = manual.supervised_check(user(), check_id)
    body = request.get_json(silent=True)
    sdp = body.get("sdp") if isinstance(body, dict) else None
    manual.watch_answer(current_app._get_current_object(), check, user(), sdp)  # type: ignore[attr-defined]
    return jsonify({"started": True})


@bp.post("/api/proctor/identity/<int:check_id>/call/offer")
@role_required(Role.PROCTOR, Role.STAFF)
def manual_call(check_id: int) -> Response:
    """The proctor talks to the waiting candidate with camera and microphone (issue 29)."""
    check = manual.supervised_check(user(), check_id)
    body = request.get_json(silent=True)
    sdp = body.get("sdp") if isinstance(body, dict) else None
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    answer: dict[str, Any] = {"type": "answer", "sdp": manual.call(app, check, user(), sdp)}
    other = manual.receive(app, check, f"proctor-{user().id}")  # the candidate on a second connection (Janus)
    if other.get("type") == "offer":
        answer["receive"] = other
    return jsonify(answer)


@bp.post("/api/proctor/identity/<int:check_id>/call/receive")
@role_required(Role.PROCTOR, Role.STAFF)
def manual_call_receive(check_id: int) -> Response:
    """The proctor's browser answers the offer that sends it the candidate (the Janus plane, see ``manual_call``)."""
    check = manual.supervised_check(user(), check_id)
    body = request.get_json(silent=True)
    sdp = body.get("sdp") if isinstance(body, dict) else None
    return jsonify(manual.receive(current_app._get_current_object(),  # type: ignore[attr-defined]
                                  check, f"proctor-{user().id}", sdp if sdp is not None else ""))


@bp.post("/proctor/identity/<int:check_id>/decide")
@role_required(Role.PROCTOR, Role.STAFF)
def manual_decide(check_id: int) -> WResponse:
    """Identity confirmed or not confirmed, with a reason."""
    check = manual.supervised_check(user(), check_id)
    confirmed = request.form.get("confirmed") == "yes"
    manual.decide_by_eye(current_app._get_current_object(), check, user(),  # type: ignore[attr-defined]
                         confirmed, request.form.get("reason", ""), utcnow())
    _decided(check, confirmed)
    return redirect(url_for("identity.manual_queue"))
