"""The identity check by a proctor: no biometric processing, a person compares face and ID document.

For a candidate without biometric consent (or at an institution that does not match faces), the
identity page connects the camera and microphone to our media engine before the exam, as the system
check does, in a session of its own that nothing records. Waiting candidates appear in their proctors'
queue as they connect; a proctor watches the live view, asks the candidate to hold the ID document next
to the face, compares it with the registration and records "confirmed" or "not confirmed" with a
reason. Until then the exam does not start (``verification.identity_gate``): the questions stay unseen
and the exam's clock does not run, which a started but locked attempt could not promise as simply.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from flask import Flask
from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import Role, User
from exams.models import Exam, exam_proctor
from idcheck.models import IdCheck, IdCheckStatus
from kernel.db import db
from kernel.errors import Conflict, NotFound, ValidationFailed
from proctoring.sessions import identity_session_id


def session_of(check: IdCheck) -> str:
    """The media session of a candidate's check by a proctor."""
    return identity_session_id(check.user_id, check.exam_id)


def waiting_check(candidate: User, exam: Exam) -> IdCheck:
    """The candidate's check if it waits for a proctor, else Conflict."""
    from idcheck.verification import check_for

    check = check_for(candidate, exam)
    if check is None or check.status != IdCheckStatus.MANUAL:
        raise Conflict(_("Your identity check does not wait for a proctor."))
    return check


def connect(app: Flask, check: IdCheck, sdp: object) -> str:
    """Connect the candidate's camera and microphone for the proctor's live view (nothing is recorded)."""
    from proctoring.media import media

    # oral=True: the proctor can talk to the candidate in this session (issue 29); nothing is recorded here either
    return media(app).offer(session_of(check), sdp, None, oral=True)


def call(app: Flask, check: IdCheck, proctor: User, sdp: object) -> str:
    """The proctor talks to the waiting candidate (camera and microphone both ways, not recorded), e.g. to ask
    for the ID document next to the face; returns the answer SDP."""
    from proctoring.media import media

    if check.status != IdCheckStatus.MANUAL:
        raise NotFound(_("This identity check is decided."))
    return media(app).join(session_of(check), f"proctor-{proctor.id}", sdp)


def receive(app: Flask, check: IdCheck, viewer: str, sdp: object = None) -> dict[str, Any]:
    """The other side of the check's call on a connection of its own, where the media plane sends it that way
    (Janus; ``viewer``: "candidate" or the proctor's ``proctor-<id>``). Without ``sdp``: the media server's offer,
    ``{"receive": False}`` where the call comes on the viewer's own connection (aiortc), ``{"wait": True}`` while
    the other side is not there; with ``sdp``: the browser's answer to that offer."""
    from proctoring.engine import NotLive
    from proctoring.media import media

    if check.status != IdCheckStatus.MANUAL:
        raise NotFound(_("This identity check is decided."))
    service = media(app)
    if sdp is not None:
        service.receive_answer(session_of(check), viewer, sdp)
        return {"started": True}
    try:
        offer = service.receive(session_of(check), viewer)
    except NotLive:
        return {"wait": True}
    return {"receive": False} if offer is None else {"type": "offer", "sdp": offer}


def watch(app: Flask, check: IdCheck, proctor: User, sdp: object) -> dict[str, str]:
    """Relay the waiting candidate's camera to the proctor's browser; returns the engine's answer (or, on Janus,
    its offer, answered through :func:`watch_answer`) as ``{"type", "sdp"}``."""
    from proctoring.media import media

    if check.status != IdCheckStatus.MANUAL:
        raise NotFound(_("This identity check is decided."))
    return media(app).watch(session_of(check), f"viewer-{proctor.id}", sdp)


def watch_answer(app: Flask, check: IdCheck, proctor: User, sdp: object) -> None:
    """The proctor's browser answers the offer :func:`watch` returned (Janus)."""
    from proctoring.media import media

    if check.status != IdCheckStatus.MANUAL:
        raise NotFound(_("This identity check is decided."))
    media(app).watch_answer(session_of(check), f"viewer-{proctor.id}", sdp)


def supervised_check(user: User, check_id: int) -> IdCheck:
    """A check ``user`` may decide by eye (an assigned proctor, or staff of the institution), else NotFound."""
    check = db.session.get(IdCheck, check_id)
    exam = db.session.get(Exam, check.exam_id) if check else None
    if check is None or exam is None or exam.institution_id != user.institution_id:
        raise NotFound()
    if user.role == Role.PROCTOR and user not in exam.proctors:
        raise NotFound()
    if user.role not in (Role.PROCTOR, Role.STAFF):
        raise NotFound()
    return check


def manual_queue(user: User, now: dt.datetime) -> Sequence[IdCheck]:
    """Checks waiting for a proctor in exams ``user`` supervises that are open or about to open, oldest first."""
    q = select(IdCheck).join(Exam, Exam.id == IdCheck.exam_id).where(
        IdCheck.status == IdCheckStatus.MANUAL, Exam.institution_id == user.institution_id, Exam.closes_at > now)
    if user.role == Role.PROCTOR:
        q = q.join(exam_proctor, exam_proctor.c.exam_id == Exam.id).where(exam_proctor.c.user_id == user.id)
    return db.session.scalars(q.order_by(IdCheck.updated_at, IdCheck.id)).all()


@dataclasses.dataclass(frozen=True)
class Registration:
    """What the candidate registered with: the proctor compares the ID document against it."""

    name: str
    date_of_birth: dt.date | None
    document_number: str | None


def registration_of(check: IdCheck) -> Registration:
    """The candidate's registered name, date of birth and ID document number."""
    profile = check.user.profile
    if profile is None:
        return Registration(check.user.display_name, None, None)
    return Registration(f"{profile.first_name} {profile.last_name}", profile.date_of_birth,
                        profile.id_document_number)


def queue_json(app: Flask, checks: Sequence[IdCheck]) -> list[dict[str, Any]]:
    """The queue as the proctor's page shows it: who, which exam, since when, whether the camera is connected."""
    from proctoring.media import media

    svc = media(app)
    out = []
    for check in checks:
        stats = svc.stats(session_of(check))
        exam = db.session.get(Exam, check.exam_id)
        out.append({"check_id": check.id, "candidate": check.user.display_name, "exam": exam.title if exam else "",
                    "waiting_since": check.updated_at.isoformat() + "Z",
                    "connected": bool(stats and stats.get("state") == "connected")})
    return out


def decide_by_eye(app: Flask, check: IdCheck, proctor: User, confirmed: bool, reason: str,
                  now: dt.datetime) -> IdCheck:
    """Record the proctor's comparison, with a reason: confirmed (the exam unlocks) or not (final for the exam).

    The decision is the proctor's: VERIFIED or REJECTED, decided_by the proctor, no biometric processing.
    The live view's media session is hung up afterwards.
    """
    from proctoring.media import media

    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Please give a reason for the decision."), fields={"reason": "required"})
    locked = db.session.scalars(select(IdCheck).where(IdCheck.id == check.id).with_for_update()).one()
    if locked.status != IdCheckStatus.MANUAL:
        db.session.commit()
        raise Conflict(_("This identity check is already decided."))
    locked.status = IdCheckStatus.VERIFIED if confirmed else IdCheckStatus.REJECTED
    locked.decided_by_id, locked.decided_at = proctor.id, now
    locked.biometric, locked.decision_reason = False, reason[:2000]
    from idcheck.chat import forget
    from idcheck.mails import queue_identity_decided

    forget(locked.id)  # the chat served the comparison; nothing of it is kept
    queue_identity_decided(locked)
    db.session.commit()
    media(app).close(session_of(locked))
    if not confirmed:
        from idcheck.verification import _tell_platform

        _tell_platform(locked)
    return locked


def waiting_count(user: User, now: dt.datetime) -> int:
    """How many candidates wait for ``user`` to compare their face with their ID (for the home page)."""
    return len(manual_queue(user, now))
