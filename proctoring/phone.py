"""A phone as the second camera (issue 29): pairing by QR code, its stream, the gate and the flag.

The candidate's exam page shows a QR code of a pairing link: a random token (only its hash is stored), valid
``PAIRING_TTL``, usable once, bound to the candidate's sitting of the exam (and to the attempt in progress, if
one is). Using it gives the phone a device credential of its own (a cookie; only its hash is stored) and ends
every earlier phone of the sitting ("a new scan replaces the earlier phone"). No login on the phone.

The phone streams its camera (never its microphone) over WebRTC to the media engine like the webcam does:
before the exam starts into a session that keeps nothing (the start waits until the engine receives its
video: :func:`phone_gate`), during the attempt into ``phone-<attempt>``, whose parts are encrypted blobs of
category ``phone_recording`` owned like the webcam's parts (same retention rule, purge, export and
crypto-shredding; each part carries the wall time of its first frame, the clock the review aligns both on).
The phone's connection going away or its camera stopping mid-exam is a flag (``phone_lost``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import re
import secrets
from typing import Any

from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from accounts.models import User
from exams.attempts import GateNotPassed, register_gate
from exams.models import Attempt, AttemptStatus, Exam
from kernel.db import db
from kernel.errors import Conflict, DomainError
from proctoring.models import PhonePairing
from proctoring.sdp import BadOffer
from proctoring.sessions import PHONE_CATEGORY, phone_check_session_id, phone_session_id

PAIRING_TTL = dt.timedelta(minutes=10)
#: Frames the engine must have received from the phone before it counts as streaming.
STREAMING_MIN_FRAMES = 10
CATEGORY = PHONE_CATEGORY


class PairingRefused(DomainError):
    """A pairing link or a phone's credential that cannot be used; ``reason`` picks the phone's page text."""

    status = 410
    code = "pairing_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(str(REFUSALS[reason]))
        self.reason = reason


#: What the phone's page says, per reason (no codes on pages).
REFUSALS = {
    "unknown": _l("This pairing link is not valid. Scan the code on the exam page again."),
    "used": _l("This pairing link has been used already. Each code works once: scan the new code on the exam page."),
    "expired": _l("This pairing link has expired. Scan the new code on the exam page."),
    "other_attempt": _l("This pairing link belongs to another attempt at this exam. Scan the code on the page of "
                        "the exam you are taking now."),
    "ended": _l("This exam attempt has ended. The phone is not needed any more; nothing is recorded."),
    "replaced": _l("Another phone has been paired for this exam and has taken over. You can close this page."),
    "not_required": _l("This exam does not use a phone as a second camera."),
}


class UnsupportedCodec(BadOffer):
    """The phone's browser offers no VP8 video, the only video the recording copies without re-encoding."""

    code = "unsupported_codec"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _attempt_in_progress(user_id: int, exam_id: int) -> Attempt | None:
    return db.session.scalar(select(Attempt).where(Attempt.user_id == user_id, Attempt.exam_id == exam_id,
                                                   Attempt.status == AttemptStatus.IN_PROGRESS))


def issue_pairing(candidate: User, exam: Exam, now: dt.datetime) -> str:
    """A new single-use pairing token for the candidate's sitting of ``exam`` (Conflict if it needs no phone)."""
    if not exam.second_camera:
        raise Conflict(str(REFUSALS["not_required"]))
    attempt = _attempt_in_progress(candidate.id, exam.id)
    token = secrets.token_urlsafe(32)
    db.session.add(PhonePairing(user_id=candidate.id, exam_id=exam.id, attempt_id=attempt.id if attempt else None,
                                token_hash=_hash(token), created_at=now, expires_at=now + PAIRING_TTL))
    db.session.commit()
    return token


def use_pairing(token: str, now: dt.datetime) -> tuple[PhonePairing, str]:
    """Spend a pairing token once; returns the pairing and the phone's device credential. Every earlier phone
    of the sitting is replaced. PairingRefused (nothing changes) when the link is unknown, used, expired, for
    another attempt or for an attempt that has ended."""
    pairing = db.session.scalar(select(PhonePairing).where(PhonePairing.token_hash == _hash(token[:200])))
    if pairing is None:
        raise PairingRefused("unknown")
    if pairing.used_at is not None:
        raise PairingRefused("used")
    if pairing.expires_at <= now:
        raise PairingRefused("expired")
    _bound_attempt(pairing)
    device = secrets.token_urlsafe(32)
    # Spent at most once, also when two phones use the same link at the same moment.
    spent = db.session.execute(update(PhonePairing).where(PhonePairing.id == pairing.id,
                                                          PhonePairing.used_at.is_(None))
                               .values(used_at=now, device_hash=_hash(device)))
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        raise PairingRefused("used")
    db.session.execute(update(PhonePairing).where(
        PhonePairing.user_id == pairing.user_id, PhonePairing.exam_id == pairing.exam_id,
        PhonePairing.id != pairing.id, PhonePairing.device_hash.is_not(None),
        PhonePairing.replaced_at.is_(None)).values(replaced_at=now))
    db.session.commit()
    return pairing, device


def _bound_attempt(pairing: PhonePairing) -> Attempt | None:
    """The attempt the phone records into (binding the sitting's attempt once it started), or None before the
    start; PairingRefused when the pairing's attempt has ended (``other_attempt`` if a new one is in progress)."""
    current = _attempt_in_progress(pairing.user_id, pairing.exam_id)
    if pairing.attempt_id is None:  # made before the start: it binds to the attempt the sitting starts
        if current is not None:
            pairing.attempt_id = current.id
            db.session.commit()
        return current
    attempt = db.session.get(Attempt, pairing.attempt_id)
    if attempt is not None and attempt.status == AttemptStatus.IN_PROGRESS:
        return attempt
    raise PairingRefused("other_attempt" if current is not None else "ended")


def device_pairing(device: str | None) -> PhonePairing:
    """The pairing of a phone's device credential; PairingRefused when unknown or replaced by another phone."""
    pairing = (db.session.scalar(select(PhonePairing).where(PhonePairing.device_hash == _hash(device[:200])))
               if device else None)
    if pairing is None:
        raise PairingRefused("unknown")
    if pairing.replaced_at is not None:
        raise PairingRefused("replaced")
    return pairing


@dataclasses.dataclass(frozen=True)
class PhoneState:
    """What the phone's page shows: ``waiting`` (before the start), ``exam`` (recorded), and the session."""

    state: str
    attempt_id: int | None
    session: str


def phone_state(pairing: PhonePairing) -> PhoneState:
    """Where the paired phone stands (PairingRefused once its attempt ended)."""
    attempt = _bound_attempt(pairing)
    if attempt is None:
        return PhoneState("waiting", None, phone_check_session_id(pairing.user_id, pairing.exam_id))
    return PhoneState("exam", attempt.id, phone_session_id(attempt.id))


def check_phone_offer(sdp: object) -> None:
    """The phone must offer VP8 video (copied into the recording as it comes); else UnsupportedCodec."""
    if isinstance(sdp, str) and not re.search(r"^a=rtpmap:\d+ VP8/90000", sdp, re.MULTILINE):
        raise UnsupportedCodec(_("This phone's browser cannot send video in the format we record (VP8). Please "
                                 "open the link in a current Chrome (Android) or Safari (iOS 14.3 or later)."))


def answer_phone_offer(app: Flask, pairing: PhonePairing, sdp: object) -> str:
    """Connect the phone's camera to the media engine: recorded with the attempt once it runs, else kept
    nowhere (the start gate only looks at what arrives). Returns the answer SDP."""
    from proctoring.media import media

    check_phone_offer(sdp)
    state = phone_state(pairing)
    svc = media(app)
    exam = db.session.get(Exam, pairing.exam_id)
    assert exam is not None  # noqa: S101 - the pairing's foreign key
    if state.attempt_id is None:
        return svc.offer(state.session, sdp, None)
    svc.close(phone_check_session_id(pairing.user_id, pairing.exam_id))  # the pre-start stream ends here
    return svc.offer(state.session, sdp, (state.attempt_id, pairing.user_id, exam.institution_id))


def streaming(app: Flask, user_id: int, exam_id: int) -> bool:
    """Whether the media engine receives a paired phone's camera for this sitting now."""
    from proctoring.media import media

    svc = media(app)
    attempt = _attempt_in_progress(user_id, exam_id)
    sessions = ([phone_session_id(attempt.id)] if attempt else []) + [phone_check_session_id(user_id, exam_id)]
    for session in sessions:
        stats: dict[str, Any] | None = svc.stats(session)
        if stats and stats.get("state") == "connected" and int(stats.get("video_frames") or 0) >= STREAMING_MIN_FRAMES:
            return True
    return False


def paired(user_id: int, exam_id: int) -> bool:
    """Whether a phone is paired (and not replaced) for this sitting."""
    return db.session.scalar(select(PhonePairing.id).where(
        PhonePairing.user_id == user_id, PhonePairing.exam_id == exam_id, PhonePairing.device_hash.is_not(None),
        PhonePairing.replaced_at.is_(None)).limit(1)) is not None


def used_codes(user_id: int, exam_id: int) -> int:
    """How many pairing codes of this sitting were used (the page makes a new code when this grows)."""
    from sqlalchemy import func

    return int(db.session.scalar(select(func.count()).select_from(PhonePairing).where(
        PhonePairing.user_id == user_id, PhonePairing.exam_id == exam_id, PhonePairing.used_at.is_not(None))) or 0)


@register_gate
def phone_gate(candidate: User, exam: Exam) -> None:
    """An exam that requires a second camera starts only while the engine receives the paired phone's video."""
    from flask import current_app

    if exam.second_camera and exam.proctoring_required and not streaming(
            current_app._get_current_object(), candidate.id, exam.id):  # type: ignore[attr-defined]
        raise GateNotPassed(_("Please connect your phone as the second camera first: scan the code on this page "
                              "with the phone and allow its camera. The exam starts once its picture arrives."),
                            gate="phone")


def end_phone(app: Flask, attempt_id: int) -> None:
    """Hang up the attempt's phone (its recording part is finished)."""
    from proctoring.media import MediaUnavailable, media

    # An engine that is gone left the part readable up to its last full segment.
    with contextlib.suppress(MediaUnavailable):
        media(app).close(phone_session_id(attempt_id))
