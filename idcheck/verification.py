"""The identity check as a process: consent, uploads, the background check, human review, the gate.

GDPR: nothing biometric happens without explicit consent (Art. 9); a candidate who declines is
checked by a proctor by eye in the live view before the exam starts (``idcheck.manual``). A doubtful
or failed match is never refused automatically (Art. 22): it goes to a person who decides with a
reason. Decisions hold: a rejection is final for the exam unless a person reopens it, the check by a
proctor is only open before any decision, and retakes are limited. Every ID photo, selfie and frame
set is stored without metadata and with its deletion date (the exam's end, or 7 days for a check
left unfinished); it is purged right after the decision. The verified face template is kept,
encrypted, for identity-drift checks during the exam and purged with the exam's data.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from accounts.models import Role, User
from accounts.services import current_consent, record_consent
from exams.attempts import GateNotPassed, register_gate
from exams.models import Exam, exam_proctor
from idcheck.models import IdCheck, IdCheckStatus
from kernel import supervision
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import Conflict, NotFound, ValidationFailed
from storage import vault
from storage.models import Blob
from storage.retention import purge_blob_now

if TYPE_CHECKING:
    from idcheck.liveness import Challenge

log = logging.getLogger(__name__)
#: ID images of a check nobody finishes are deleted this long after they were stored (or at the exam's end).
ABANDONED_AFTER = dt.timedelta(days=7)
#: Statuses before any decision: only then may the candidate switch to the check by a proctor.
UNDECIDED = (IdCheckStatus.STARTED, IdCheckStatus.RETAKE, IdCheckStatus.MANUAL)


def check_for(candidate: User, exam: Exam) -> IdCheck | None:
    """The candidate's check for this exam, if any."""
    return db.session.scalar(select(IdCheck).where(IdCheck.user_id == candidate.id, IdCheck.exam_id == exam.id))


def start_check(candidate: User, exam: Exam) -> IdCheck:
    """Open (or return) the check; requires biometric consent, otherwise use ``choose_manual_check``."""
    from privacy.settings import settings_for

    if not settings_for(exam.institution_id).biometric_matching:
        raise Conflict(_("This institution does not use automatic face matching: a proctor compares your face "
                         "with your ID during the exam."))
    consent = current_consent(candidate, "biometrics")
    if consent is None or not consent.granted:
        raise Conflict(_("Please decide first whether we may compare your face automatically."))
    check = check_for(candidate, exam)
    if check is None:
        check = IdCheck(user_id=candidate.id, exam_id=exam.id, biometric=True)
        db.session.add(check)
    elif check.status == IdCheckStatus.MANUAL:
        check.status, check.biometric = IdCheckStatus.STARTED, True
    db.session.commit()
    return check


def choose_manual_check(candidate: User, exam: Exam, now: dt.datetime, *, declined: bool = True) -> IdCheck:
    """No biometric processing: a proctor compares face and ID in the live view before the exam starts.

    Only before any decision: a rejected check stays rejected (a person may reopen it), and a check that is
    being processed or reviewed is decided by the reviewer. ``declined``: the candidate refused biometric
    consent (recorded); otherwise the institution does not match faces automatically.
    """
    check = check_for(candidate, exam)
    if check is not None and check.status not in UNDECIDED:
        if check.status == IdCheckStatus.REJECTED:
            raise Conflict(_("Your identity check was decided: your identity could not be confirmed. Only the exam "
                             "office can reopen it."))
        raise Conflict(_("Your identity check is already under way or decided; it can no longer be changed to the "
                         "check by a proctor."))
    if declined:
        record_consent(candidate, "biometrics", current_app.config["PRIVACY_NOTICE_VERSION"], False)
    if check is None:
        check = IdCheck(user_id=candidate.id, exam_id=exam.id)
        db.session.add(check)
    old = (check.template_blob_id, check.selfie_blob_id, check.frames_blob_id, check.id_image_blob_id)
    check.biometric = False
    check.status = IdCheckStatus.MANUAL
    check.template_blob_id = check.selfie_blob_id = check.frames_blob_id = check.id_image_blob_id = None
    check.updated_at = now
    db.session.commit()
    for blob_id in old:
        _purge(blob_id, now, "no biometric check: a proctor compares face and ID")
    return check


def reopen_check(check: IdCheck, person: User, reason: str, now: dt.datetime) -> IdCheck:
    """A person reopens a rejected check, with a reason: the candidate may try again (retakes counted anew)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Please give a reason for the decision."), fields={"reason": "required"})
    if check.status != IdCheckStatus.REJECTED:
        raise Conflict(_("Only a rejected identity check can be reopened."))
    earlier = f"rejected {check.decided_at:%Y-%m-%d %H:%M}: {check.decision_reason}" if check.decided_at else ""
    check.reason = f"reopened by {person.display_name} {now:%Y-%m-%d %H:%M}: {reason[:1000]} ({earlier})"
    check.status = IdCheckStatus.STARTED if check.biometric else IdCheckStatus.MANUAL
    check.decided_by_id = check.decided_at = check.decision_reason = None
    check.selfie_uploads, check.challenge = 0, []
    check.updated_at = now
    db.session.commit()
    return check


def max_retakes() -> int:
    """How many times a candidate may send the selfie again after the first (IDCHECK_MAX_RETAKES, 3)."""
    return max(0, int(current_app.config.get("IDCHECK_MAX_RETAKES", 3)))


def retakes_left(check: IdCheck) -> int:
    """Selfie submissions the candidate still has for this exam."""
    return max(0, 1 + max_retakes() - check.selfie_uploads)


def image_deadline(exam: Exam, now: dt.datetime) -> dt.datetime:
    """The deletion date an ID image gets when stored: the exam's end, or 7 days on for a check left unfinished."""
    return min(exam.closes_at, now + ABANDONED_AFTER)


def _store_image(check: IdCheck, exam: Exam, data: bytes, now: dt.datetime) -> int:
    """Store an ID photo, selfie or frame set encrypted, with its deletion date; returns the blob id."""
    return vault.store("id_image", data, content_type="image/*", retain_until=image_deadline(exam, now),
                       **_owner(check, exam)).id


def _owner(check: IdCheck, exam: Exam) -> dict[str, Any]:
    return {"user_id": check.user_id, "institution_id": exam.institution_id}


def upload_id_document(check: IdCheck, exam: Exam, data: bytes, mrz_text: str | None = None,
                       back: bytes | None = None) -> None:
    """Validate the ID photo by content, read its MRZ (from ``back``, the back of an ID card, if sent) and
    store the photo encrypted, without its metadata; the back is read and not kept."""
    from idcheck.images import without_metadata

    _open_for_upload(check)
    clean = without_metadata(data, **_limits())
    if back:
        without_metadata(back, **_limits())  # validated like the front; read, never kept
    # the MRZ is read from the photos as taken (re-encoding softens the characters a little)
    check.document_check = document_check(check.user, mrz_text, [data] if not back else [back, data])
    old = check.id_image_blob_id
    check.id_image_blob_id = _store_image(check, exam, clean, utcnow())
    check.status = IdCheckStatus.STARTED
    db.session.commit()
    _purge(old, utcnow(), "replaced by a new upload")


def document_check(candidate: User, mrz_text: str | None, images: Sequence[bytes] = ()) -> dict[str, Any]:
    """The MRZ read from the photos (idcheck.document), compared with the registration and today's date;
    a typed MRZ is only a fallback for a person to check (MrzInvalid if its check digits fail)."""
    from idcheck.document import check_document

    p = candidate.profile
    registration = None if p is None else {"first_name": p.first_name, "last_name": p.last_name,
                                           "date_of_birth": p.date_of_birth,
                                           "id_document_number": p.id_document_number}
    return check_document(list(images), mrz_text, registration, utcnow().date(),
                          required=bool(current_app.config.get("IDCHECK_REQUIRE_MRZ", True)))


#: How long after a challenge's last deadline its frames may still be on their way from the media engine.
HANDOVER_MS = 5000
#: Frames of a live challenge below this count mean the picture did not arrive (a retake, not a decision).
MIN_LIVE_FRAMES = 5


def begin_live_challenge(check: IdCheck, now: dt.datetime) -> Challenge:
    """Draw the head moves and their times for the live camera (each try counts against the retakes).

    The moves are drawn here (``IDCHECK_CHALLENGE_DRAW``, default ``idcheck.liveness.draw_challenge``) and
    timed by this server's clock: ``LEAD_MS`` looking straight, then one step after the other, each with
    ``IDCHECK_LIVENESS_STEP_MS`` to answer. The candidate's page learns a move only when it is prompted
    (``live_prompt``); the media engine takes the frames from the received video in that window.
    """
    from idcheck.liveness import LEAD_MS, STEP_MS, draw_challenge, schedule, steps_json

    ready_for_challenge(check, now)
    draw = current_app.config.get("IDCHECK_CHALLENGE_DRAW") or draw_challenge
    step_ms = int(current_app.config.get("IDCHECK_LIVENESS_STEP_MS", STEP_MS))
    challenge = schedule(list(draw()), _ms(now) + LEAD_MS, step_ms)
    check.challenge = steps_json(challenge)
    check.selfie_uploads += 1
    check.status = IdCheckStatus.STARTED
    check.updated_at = now
    db.session.commit()
    return challenge


def ready_for_challenge(check: IdCheck, now: dt.datetime) -> None:
    """Conflict, saying why, unless the check may begin a live challenge now (retakes left, ID photo in, no
    challenge under way: a second start would throw away the frames being taken)."""
    from idcheck.liveness import challenge_from_json

    _open_for_upload(check)
    running = challenge_from_json(check.challenge or [])
    if running is not None and check.status == IdCheckStatus.STARTED and \
            _ms(now) <= running.steps[-1].deadline_ms + HANDOVER_MS:
        raise Conflict(_("The movements are under way. Please follow the instructions on the screen."))
    if retakes_left(check) == 0:
        raise Conflict(_("You have no retakes left for this exam. Please contact the exam office."))
    if check.id_image_blob_id is None:
        raise Conflict(_("Please upload the photo of your ID document first."))


def _ms(when: dt.datetime) -> int:
    """Unix time in ms of a naive UTC datetime (the clock of the challenge and of the engine's frames)."""
    return int(when.replace(tzinfo=dt.UTC).timestamp() * 1000)


def live_prompt(check: IdCheck, now: dt.datetime) -> dict[str, Any]:
    """What the page shows now: look straight, the current move (never a later one), or done."""
    from idcheck.liveness import challenge_from_json

    challenge = challenge_from_json(check.challenge or [])
    t = _ms(now)
    if challenge is None or check.status != IdCheckStatus.STARTED or t > challenge.steps[-1].deadline_ms:
        return {"phase": "done", "move": None, "step": None, "steps": len(check.challenge or [])}
    if t < challenge.steps[0].prompted_ms:
        return {"phase": "straight", "move": None, "step": 0, "steps": len(challenge.steps),
                "ms_left": challenge.steps[0].prompted_ms - t}
    i, step = next((i, s) for i, s in enumerate(challenge.steps) if t <= s.deadline_ms)
    return {"phase": "move", "move": step.move, "step": i + 1, "steps": len(challenge.steps),
            "ms_left": step.deadline_ms - t}


def accept_live_frames(check_id: int, challenge_at: int, frames: Sequence[tuple[int, bytes]],
                       now: dt.datetime) -> IdCheck | None:
    """The media engine hands over the frames it took from the live video during the challenge prompted
    from ``challenge_at`` (unix ms): stored encrypted with their times, the check queued in the job runner.

    Frames of an earlier challenge, or of a check no longer waiting for them, are dropped. Too few frames
    (the connection broke) ask for a retake, or a person's look once no retakes are left.
    """
    from idcheck.images import without_metadata
    from idcheck.liveness import challenge_from_json
    from kernel.jobs import enqueue_pending

    check = db.session.get(IdCheck, check_id)
    challenge = challenge_from_json(check.challenge or []) if check is not None else None
    if check is None or challenge is None or challenge.steps[0].prompted_ms != challenge_at or \
            check.status != IdCheckStatus.STARTED:
        log.info("live frames for check %s dropped (not waiting for this challenge)", check_id)
        return check
    exam = db.session.get(Exam, check.exam_id)
    assert exam is not None  # noqa: S101
    clean = sorted(((int(t), without_metadata(img, **_limits())) for t, img in frames), key=lambda f: f[0])
    if len(clean) < MIN_LIVE_FRAMES:
        check.status = IdCheckStatus.RETAKE if retakes_left(check) else IdCheckStatus.REVIEW
        check.reason = "the camera picture did not arrive during the head movements"
        db.session.commit()
        return check
    old = (check.selfie_blob_id, check.frames_blob_id, check.template_blob_id)
    # The selfie that is matched: the last frame looking straight, before the first prompt.
    before = [img for t, img in clean if t < challenge_at] or [clean[0][1]]
    check.selfie_blob_id = _store_image(check, exam, before[-1], now)
    check.frames_blob_id = _store_image(check, exam, pack_frames(clean), now)
    check.template_blob_id = None
    check.status = IdCheckStatus.PROCESSING
    check.updated_at = now
    db.session.commit()
    for blob_id in old:
        _purge(blob_id, utcnow(), "replaced by a new live challenge")
    # Committed as processing: if the queue is down now, requeue_stalled queues the check later.
    enqueue_pending("idcheck.verify", check_id=check.id)
    return check


def _open_for_upload(check: IdCheck) -> None:
    if check.status in (IdCheckStatus.VERIFIED, IdCheckStatus.REJECTED, IdCheckStatus.MANUAL):
        raise Conflict(_("Your identity check is already decided."))
    if check.status == IdCheckStatus.PROCESSING:
        raise Conflict(_("Your photos are being checked. Please wait a moment."))
    if check.status == IdCheckStatus.REVIEW:  # the reviewer decides on these photos: a retake must not replace them
        raise Conflict(_("A person is reviewing your photos. Please wait for the decision."))


def _limits() -> dict[str, int]:
    cfg = current_app.config
    return {"max_bytes": int(cfg.get("IDCHECK_MAX_UPLOAD_BYTES", 8 * 1024 * 1024)),
            "max_pixels": int(cfg.get("IDCHECK_MAX_PIXELS", 40_000_000))}


def pack_frames(frames: Sequence[tuple[int, bytes]]) -> bytes:
    """Timed images in one blob: a count, then per image its capture time (unix ms) and length-prefixed bytes."""
    out = io.BytesIO()
    out.write(struct.pack(">I", len(frames)))
    for t_ms, f in frames:
        out.write(struct.pack(">qI", t_ms, len(f)))
        out.write(f)
    return out.getvalue()


def unpack_frames(data: bytes) -> list[tuple[int, bytes]]:
    """The inverse of ``pack_frames``."""
    (n,), pos, frames = struct.unpack_from(">I", data), 4, []
    for _i in range(n):
        t_ms, size = struct.unpack_from(">qI", data, pos)
        frames.append((t_ms, data[pos + 12:pos + 12 + size]))
        pos += 12 + size
    return frames


def run_check(check_id: int, now: dt.datetime) -> IdCheck | None:
    """The heavy part (job runner): quality, liveness, face match, then the decision or the review queue.

    Idempotent, as a job must be: a check that is gone or no longer processing is left as it is, and a
    run cut off after storing the template (the match is decided then) only finishes the verification.
    """
    from idcheck.images import load_frame, load_upload, pixels_of
    from idcheck.liveness import Frame, LivenessResult, challenge_from_json, decide
    from idcheck.matching import compare

    check = db.session.get(IdCheck, check_id)
    if check is None or check.status != IdCheckStatus.PROCESSING:
        return check
    if check.template_blob_id is not None:
        _verify(check, now)
        db.session.commit()
        return check
    id_bytes, selfie_bytes = _blob_bytes(check.id_image_blob_id), _blob_bytes(check.selfie_blob_id)
    timed_frames = unpack_frames(_blob_bytes(check.frames_blob_id)) if check.frames_blob_id else []
    # Every picture of one check together: one job decodes no more than this (a candidate's uploads each pass
    # the per-image bound; many large ones would still hold a worker and its memory for long).
    budget = int(current_app.config.get("IDCHECK_MAX_PIXELS_PER_JOB", 120_000_000))
    total = sum(pixels_of(b) for b in (id_bytes, selfie_bytes, *(f for _t, f in timed_frames)))
    if total > budget:
        check.status, check.auto_decision = IdCheckStatus.REVIEW, "unusable"
        check.reason = f"too many pixels for the automatic check ({total} of at most {budget}): a person looks"
        db.session.commit()
        return check
    id_img = load_upload(id_bytes, **_limits())
    selfie = load_upload(selfie_bytes, **_limits())
    decision = compare(id_img, selfie, thresholds(current_app.config))
    check.auto_decision, check.distance, check.reason = decision.decision, decision.distance, decision.reason
    if decision.decision == "unusable":
        # No retakes left: a person looks at what there is (never refused by the computer).
        check.status = IdCheckStatus.RETAKE if retakes_left(check) else IdCheckStatus.REVIEW
        if check.status == IdCheckStatus.REVIEW:
            check.reason = f"{check.reason}; no retakes left"
        db.session.commit()
        return check
    assert decision.encodings is not None  # noqa: S101  (both photos were usable)
    id_enc, selfie_enc = decision.encodings
    challenge = challenge_from_json(check.challenge or [])
    if challenge is None:
        live = LivenessResult(False, "no challenge with step times")
    else:
        # frames as the media engine took them from the live video, timed by this server's clock;
        # every frame must show the person of the selfie and of the ID photo
        frames = [Frame(t, load_frame(f, **_limits())) for t, f in timed_frames]
        # the selfie is one of the frames (accept_live_frames): its encoding from the match is that frame's
        encoded = {t: selfie_enc for t, f in timed_frames if f == selfie_bytes}
        live = decide(challenge, frames, references=[selfie_enc, id_enc], encoded=encoded)
        # each step's outcome with its step, for the reviewer (which frame shows the answer)
        results = {i: r for i, r in enumerate(live.steps)}
        check.challenge = [{**s, "answered_ms": results[i].at_ms if i in results else None,
                            "followed": results[i].passed if i in results else None}
                           for i, s in enumerate(check.challenge)]
    check.liveness_passed = live.passed
    differences = (check.document_check or {}).get("differences") or []
    if decision.decision == "match" and live.passed and not differences:
        # Template kept and images purged first: "verified" is committed only once that is done
        # (storing the template commits the session, which must not publish the status early). The
        # template's id is committed at once: a run cut off after this point finishes from here.
        _keep_template(check, selfie_enc.tobytes(), now)
        db.session.commit()
        _verify(check, now)
    else:
        check.status = IdCheckStatus.REVIEW
        if differences:
            check.reason = f"{check.reason}; ID document: {', '.join(differences)}"
        if not live.passed:
            check.reason = f"{check.reason}; liveness: {live.reason}" if check.reason else f"liveness: {live.reason}"
    db.session.commit()
    return check


def _verify(check: IdCheck, now: dt.datetime) -> None:
    """The automatic verification once the template is stored: images purged, then the status (caller commits)."""
    _after_decision(check, now)
    check.status = IdCheckStatus.VERIFIED
    check.decided_at = now
    check.decision_reason = "automatic: face matches the ID photo and the liveness challenge passed"


def requeue_stalled(now: dt.datetime) -> int:
    """Queue again every check still processing long after its photos came in (its job was lost: the queue
    was down when the photos were saved, or the worker died); returns how many."""
    from kernel.jobs import runner, stalled_before

    ids = db.session.scalars(select(IdCheck.id).where(IdCheck.status == IdCheckStatus.PROCESSING,
                                                      IdCheck.updated_at < stalled_before(now))
                             .order_by(IdCheck.id).limit(500)).all()
    if not ids:
        return 0
    # Touched now, so that a check waiting behind many others in the queue is queued again only once a period.
    db.session.execute(update(IdCheck).where(IdCheck.id.in_(ids)).values(updated_at=now))
    db.session.commit()
    for check_id in ids:
        runner().enqueue("idcheck.verify", check_id=check_id)
    log.info("identity checks queued again: %d", len(ids))
    return len(ids)


def thresholds(config: dict[str, object]) -> object:
    """Match thresholds from configuration."""
    from idcheck.matching import Thresholds

    defaults = Thresholds()
    return Thresholds(match_max=float(config.get("IDCHECK_MATCH_MAX", defaults.match_max)),  # type: ignore[arg-type]
                      no_match_min=float(config.get("IDCHECK_NO_MATCH_MIN", defaults.no_match_min)))  # type: ignore[arg-type]


def _blob_bytes(blob_id: int | None) -> bytes:
    blob = db.session.get(Blob, blob_id) if blob_id else None
    if blob is None:
        raise NotFound()
    return vault.read(blob)


def _keep_template(check: IdCheck, template: bytes, now: dt.datetime) -> None:
    exam = db.session.get(Exam, check.exam_id)
    assert exam is not None  # noqa: S101
    from privacy.settings import appeal_window_days

    window = dt.timedelta(days=appeal_window_days(exam.institution_id))
    check.template_blob_id = vault.store("face_template", template, retain_until=exam.closes_at + window,
                                         **_owner(check, exam)).id


def _after_decision(check: IdCheck, now: dt.datetime) -> None:
    """ID images go right after the decision (or at the exam's end if the institution keeps them)."""
    from privacy.settings import settings_for

    exam = db.session.get(Exam, check.exam_id)
    keep = exam is not None and settings_for(exam.institution_id).keep_id_images_until_exam_end
    keep_until = exam.closes_at if exam is not None and keep else None
    for blob_id in (check.id_image_blob_id, check.selfie_blob_id, check.frames_blob_id):
        if keep_until is None:
            _purge(blob_id, now, "identity images: deleted right after the identity decision")
        elif blob_id and (blob := db.session.get(Blob, blob_id)) is not None:
            blob.retain_until = keep_until
    db.session.commit()


def _purge(blob_id: int | None, now: dt.datetime, reason: str) -> None:
    blob = db.session.get(Blob, blob_id) if blob_id else None
    if blob is not None:
        purge_blob_now(blob, now, reason)


def review_queue(user: User) -> Sequence[IdCheck]:
    """Checks waiting for a person, for exams ``user`` supervises."""
    q = select(IdCheck).join(Exam, Exam.id == IdCheck.exam_id).where(
        IdCheck.status == IdCheckStatus.REVIEW, Exam.institution_id == user.institution_id)
    if user.role == Role.PROCTOR:
        q = q.join(exam_proctor, exam_proctor.c.exam_id == Exam.id).where(exam_proctor.c.user_id == user.id)
    return db.session.scalars(q.order_by(IdCheck.updated_at)).all()


def reviewable_check(user: User, check_id: int) -> IdCheck:
    """A check ``user`` may review (assigned proctor or staff of the institution), else NotFound."""
    check = db.session.get(IdCheck, check_id)
    exam = db.session.get(Exam, check.exam_id) if check else None
    if check is None or exam is None or exam.institution_id != user.institution_id:
        raise NotFound()
    if user.role == Role.PROCTOR and user not in exam.proctors:
        raise NotFound()
    return check


def decide(check: IdCheck, reviewer: User, verified: bool, reason: str, now: dt.datetime) -> IdCheck:
    """A person decides a check in review, with a reason; images are purged afterwards."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Please give a reason for the decision."), fields={"reason": "required"})
    if check.status != IdCheckStatus.REVIEW:
        raise Conflict(_("This check is not waiting for review."))
    check.status = IdCheckStatus.VERIFIED if verified else IdCheckStatus.REJECTED
    check.decided_by_id, check.decided_at, check.decision_reason = reviewer.id, now, reason[:2000]
    if verified and check.biometric and check.selfie_blob_id:
        from idcheck.images import load_upload
        from idcheck.matching import face_encoding

        try:
            _keep_template(check, face_encoding(load_upload(_blob_bytes(check.selfie_blob_id), **_limits())).tobytes(),
                           now)
        except Exception:  # no usable face in the selfie: no template, drift checks stay off
            log.warning("no face template for check %s", check.id)
    _after_decision(check, now)
    from idcheck.mails import queue_identity_decided

    queue_identity_decided(check)
    db.session.commit()
    if not verified:
        _tell_platform(check)
    return check


def _tell_platform(check: IdCheck) -> None:
    """A learning platform whose assessment runs under LTI Proctoring learns that the identity was rejected (lti
    listens)."""
    supervision.announce(check.user_id, check.exam_id, "identity_rejected", "identity not confirmed", severity=1.0)


def image_for_review(check: IdCheck, which: str) -> bytes:
    """The ID photo, the selfie or head-turn frame ``frame-N``, decrypted for a reviewer (only while in review)."""
    if check.status != IdCheckStatus.REVIEW:
        raise NotFound()
    if which.startswith("frame-") and which[6:].isdigit():
        frames = unpack_frames(_blob_bytes(check.frames_blob_id))
        index = int(which[6:])
        if index >= len(frames):
            raise NotFound()
        return frames[index][1]
    blob_id = {"id": check.id_image_blob_id, "selfie": check.selfie_blob_id}.get(which)
    return _blob_bytes(blob_id)


def move_labels() -> dict[str, str]:
    """Words for the head moves and the frame looking straight (the reviewer's page)."""
    from flask_babel import pgettext

    return {"straight": pgettext("head move", "looking straight"), "left": pgettext("head move", "left"),
            "right": pgettext("head move", "right"), "up": pgettext("head move", "up"),
            "down": pgettext("head move", "down")}


def challenge_moves(check: IdCheck) -> list[str]:
    """The asked moves in order (a step is stored with its times; older checks stored the move alone)."""
    return [str(s["move"]) if isinstance(s, dict) else str(s) for s in check.challenge or []]


def review_frames(check: IdCheck) -> list[tuple[int, str]]:
    """The head-turn frames a reviewer sees (index, what it shows): the last one looking straight, then per
    step the frame of its first clear movement (or the middle of its time when there was none)."""
    from idcheck.liveness import challenge_from_json

    blob = db.session.get(Blob, check.frames_blob_id) if check.frames_blob_id else None
    challenge = challenge_from_json(check.challenge or [])
    if blob is None or blob.wrapped_key is None or challenge is None:
        return []
    times = [t for t, _f in unpack_frames(vault.read(blob))]
    if not times:
        return []
    wanted = [(challenge.steps[0].prompted_ms - 1, "straight")]
    for raw, step in zip(check.challenge, challenge.steps, strict=True):
        at = raw.get("answered_ms") if isinstance(raw, dict) else None
        wanted.append((int(at) if at is not None else (step.prompted_ms + step.deadline_ms) // 2, step.move))
    out: list[tuple[int, str]] = []
    for t, label in wanted:
        i = min(range(len(times)), key=lambda j: abs(times[j] - t))
        if t < challenge.steps[0].prompted_ms:  # looking straight: the last frame before the first prompt
            i = max([j for j, tj in enumerate(times) if tj < challenge.steps[0].prompted_ms] or [i])
        if all(i != j for j, _l in out):
            out.append((i, label))
    return out


def status_json(check: IdCheck | None) -> dict[str, object]:
    """What the candidate's page shows."""
    if check is None:
        return {"status": None}
    return {"status": check.status.value, "reason": check.reason if check.status == IdCheckStatus.RETAKE else None,
            "decision_reason": check.decision_reason if check.status == IdCheckStatus.REJECTED else None,
            "has_id_photo": check.id_image_blob_id is not None,
            "retakes_left": retakes_left(check)}


def may_start_during_review(exam: Exam) -> bool:
    """Whether the institution lets the exam start while a person reviews the identity check."""
    from privacy.settings import settings_for

    return bool(settings_for(exam.institution_id).start_during_identity_review)


@register_gate
def identity_gate(candidate: User, exam: Exam) -> None:
    """An exam that requires it starts only once the identity is verified (by the computer or a person).

    A check in review lets it start only where the institution allows it (the result then waits for the
    decision); the check by a proctor must be decided first; a rejection blocks the exam.
    """
    if not exam.identity_check_required:
        return
    check = check_for(candidate, exam)
    if check is not None and check.status == IdCheckStatus.VERIFIED:
        return
    if check is not None and check.status == IdCheckStatus.REVIEW and may_start_during_review(exam):
        return
    if check is None or check.status in (IdCheckStatus.STARTED, IdCheckStatus.RETAKE, IdCheckStatus.PROCESSING):
        raise GateNotPassed(_("Please complete the identity check first."), gate="identity")
    messages = {
        IdCheckStatus.REVIEW: _("A person is reviewing your identity check. The exam can start once it is decided."),
        IdCheckStatus.MANUAL: _("A proctor still has to compare your face with your ID document. Please open the "
                                "identity check and connect your camera."),
        IdCheckStatus.REJECTED: _("Your identity could not be confirmed, so this exam cannot start. Please contact "
                                  "the exam office."),
    }
    raise GateNotPassed(messages[check.status], gate="identity")


def template_of(user_id: int, exam_id: int) -> bytes | None:
    """The verified face template (128 float64) for identity-drift checks, if any."""
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == user_id, IdCheck.exam_id == exam_id))
    if check is None or check.template_blob_id is None:
        return None
    blob = db.session.get(Blob, check.template_blob_id)
    return vault.read(blob) if blob is not None and blob.wrapped_key is not None else None


def compare_files_json(id_path: str, selfie_path: str) -> str:
    """``flask idcheck compare``: the same checks and decision on two files, as one JSON object."""
    from idcheck.matching import compare_files

    return json.dumps(compare_files(id_path, selfie_path, thresholds(current_app.config)))
