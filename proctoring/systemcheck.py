"""The system check before a supervised exam: camera, microphone and a real WebRTC connection.

The browser tests its devices; the connection test goes to our media engine, which must actually
receive video and audio before the check counts as passed (the browser cannot just claim it).
Nothing of the test stream is stored. A supervised exam starts only after a passed check.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import User
from exams.attempts import GateNotPassed, register_gate
from exams.models import Exam
from kernel.db import db
from kernel.errors import Conflict
from proctoring.models import SystemCheck
from proctoring.sessions import check_session_id

VALID_FOR = dt.timedelta(hours=24)


def session_id(user: User, exam: Exam) -> str:
    """The media session of a candidate's system check."""
    return check_session_id(user.id, exam.id)


def answer_offer(app: Flask, user: User, exam: Exam, sdp: object) -> str:
    """Connect the test stream to the media engine; returns the answer SDP."""
    from proctoring.media import media

    return media(app).offer(session_id(user, exam), sdp, None)


def confirm(app: Flask, user: User, exam: Exam, now: dt.datetime) -> SystemCheck:
    """Record a passed check if the engine really received the candidate's video and audio."""
    from proctoring.media import media

    svc = media(app)
    stats: dict[str, Any] | None = svc.stats(session_id(user, exam))
    if not stats or stats["state"] != "connected" or stats["video_frames"] < 10 or stats["audio_frames"] < 10:
        raise Conflict(_("We did not receive your camera and microphone yet. Please wait a moment or try again."))
    svc.close(session_id(user, exam))
    # Which way the connection took ("direct", or "relay" through TURN): support reads it from the check.
    check = SystemCheck(user_id=user.id, exam_id=exam.id, passed_at=now,
                        detail={"size": stats.get("size"), "video_frames": stats["video_frames"],
                                "path": stats.get("path")})
    db.session.add(check)
    db.session.commit()
    return check


def passed_recently(user: User, exam: Exam, now: dt.datetime) -> bool:
    """Whether the candidate passed the system check for this exam within the last day."""
    return db.session.scalar(select(SystemCheck.id).where(
        SystemCheck.user_id == user.id, SystemCheck.exam_id == exam.id,
        SystemCheck.passed_at >= now - VALID_FOR).limit(1)) is not None


@register_gate
def proctoring_gate(candidate: User, exam: Exam) -> None:
    """A supervised exam starts only after a passed system check."""
    from kernel.clock import utcnow

    if exam.proctoring_required and not passed_recently(candidate, exam, utcnow()):
        raise GateNotPassed(_("Please run the system check (camera, microphone, connection) first."),
                            gate="proctoring")
