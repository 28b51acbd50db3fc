"""What a proctor does during an attempt: warn, pause and resume, add time, terminate, talk.

Each action is an event on the attempt's timeline. Proctors act only on attempts of exams
assigned to them; staff of the same institution may too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import Role, User
from exams.attempts import record_event, remaining_seconds, terminate_attempt
from exams.models import Attempt, AttemptEvent, AttemptStatus, Exam, exam_proctor
from kernel import supervision
from kernel.db import db
from kernel.errors import Conflict, NotFound, ValidationFailed

MAX_MESSAGE = 500
# Timeline entries the candidate's page shows (and polls for).
CANDIDATE_NOTICES = ("warning", "paused", "resumed", "time_added", "terminated", "chat_from_proctor",
                     "call_started", "call_ended", "room_scan_requested")


def supervised_attempt(user: User, attempt_id: int) -> Attempt:
    """The attempt if ``user`` supervises its exam (assigned proctor, or staff of the institution)."""
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None:
        raise NotFound()
    exam = attempt.exam
    if user.role == Role.STAFF and user.institution_id == exam.institution_id:
        return attempt
    if user.role == Role.PROCTOR and user.institution_id == exam.institution_id and user in exam.proctors:
        return attempt
    raise NotFound()


def live_attempts(user: User) -> Sequence[Attempt]:
    """Attempts in progress that ``user`` watches on the grid.

    Staff see every attempt of the institution. A proctor sees the attempts of the exams they supervise
    whose candidates the roster gave to them, and those given to nobody (no roster entry, or a session over
    its proctors' capacity); candidates given to a colleague are on the colleague's grid (the proctor may
    still open them: ``supervised_attempt``, to stand in).
    """
    from exams.models import Enrolment

    q = select(Attempt).join(Exam).where(Attempt.status == AttemptStatus.IN_PROGRESS,
                                         Exam.institution_id == user.institution_id)
    if user.role == Role.PROCTOR:
        q = (q.join(exam_proctor, exam_proctor.c.exam_id == Exam.id).where(exam_proctor.c.user_id == user.id)
             .outerjoin(Enrolment, (Enrolment.exam_id == Attempt.exam_id) & (Enrolment.user_id == Attempt.user_id))
             .where((Enrolment.proctor_id.is_(None)) | (Enrolment.proctor_id == user.id)))
    return db.session.scalars(q.order_by(Attempt.started_at)).all()


def _open(attempt: Attempt) -> None:
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise Conflict(_("This attempt has already ended."))


def _message(text: str) -> str:
    text = (text or "").strip()
    if not text or len(text) > MAX_MESSAGE:
        raise ValidationFailed(_("Please write a message of at most %(n)d characters.", n=MAX_MESSAGE),
                               fields={"message": "1 to 500 characters"})
    return text


def warn(attempt: Attempt, proctor: User, message: str, now: dt.datetime) -> None:
    """Show a warning to the candidate."""
    _open(attempt)
    record_event(attempt, "warning", now, actor=proctor, message=_message(message))
    db.session.commit()


def pause(attempt: Attempt, proctor: User, now: dt.datetime, reason: str = "") -> None:
    """Stop the candidate's clock and answers until resumed."""
    _open(attempt)
    if attempt.paused_at is None:
        attempt.paused_at = now
        record_event(attempt, "paused", now, actor=proctor, reason=reason[:MAX_MESSAGE])
        db.session.commit()
        _tell_platform(attempt, "pause", reason)
    db.session.commit()


def resume(attempt: Attempt, proctor: User, now: dt.datetime) -> None:
    """Restart the clock; the deadline moves by the time spent paused."""
    _open(attempt)
    if attempt.paused_at is not None:
        paused_for = now - attempt.paused_at
        attempt.deadline_at += paused_for
        attempt.paused_at = None
        record_event(attempt, "resumed", now, actor=proctor, paused_seconds=int(paused_for.total_seconds()))
    db.session.commit()


def add_time(attempt: Attempt, proctor: User, minutes: int, now: dt.datetime, reason: str = "") -> None:
    """Give the candidate more time (e.g. after a technical problem)."""
    _open(attempt)
    if not 1 <= minutes <= 240:
        raise ValidationFailed(_("Between 1 and 240 minutes."), fields={"minutes": "1 to 240"})
    attempt.deadline_at += dt.timedelta(minutes=minutes)
    record_event(attempt, "time_added", now, actor=proctor, minutes=minutes, reason=reason[:MAX_MESSAGE])
    db.session.commit()


def terminate(attempt: Attempt, proctor: User, reason: str, now: dt.datetime) -> None:
    """End the attempt with a reason; answers so far are kept and graded."""
    _open(attempt)
    terminate_attempt(attempt, proctor, _message(reason), now)
    _tell_platform(attempt, "terminate", reason, severity=1.0)


def _tell_platform(attempt: Attempt, event: str, reason: str, severity: float = 0.5) -> None:
    """A learning platform that runs this candidate's assessment under LTI Proctoring learns of it (lti listens)."""
    supervision.announce(attempt.user_id, attempt.exam_id, event, reason, severity)


def call_started(attempt: Attempt, proctor: User, now: dt.datetime) -> None:
    """A proctor's two-way call with the candidate is connected: on the timeline (the call is in the
    recording from here) and on the candidate's page, with the proctor's name."""
    _open(attempt)
    record_event(attempt, "call_started", now, actor=proctor, proctor=proctor.display_name)
    db.session.commit()


def call_ended(attempt: Attempt, proctor: User, now: dt.datetime) -> None:
    """The proctor hung up; the candidate's page takes the call indicator away."""
    _open(attempt)
    record_event(attempt, "call_ended", now, actor=proctor, proctor=proctor.display_name)
    db.session.commit()


def call_lost(attempt: Attempt, now: dt.datetime) -> None:
    """The proctor's side of a call went away without hanging up: the call ends on the timeline and on the
    candidate's page, unless the proctor already hung up."""
    last = db.session.scalar(select(AttemptEvent.kind).where(
        AttemptEvent.attempt_id == attempt.id, AttemptEvent.kind.in_(("call_started", "call_ended")))
        .order_by(AttemptEvent.id.desc()).limit(1))
    if last == "call_started":
        record_event(attempt, "call_ended", now, by="connection")
        db.session.commit()


def notices_for_candidate(attempt: Attempt, after_id: int) -> list[dict[str, Any]]:
    """Timeline entries meant for the candidate, newer than ``after_id``."""
    rows = db.session.scalars(
        select(AttemptEvent).where(AttemptEvent.attempt_id == attempt.id, AttemptEvent.id > after_id,
                                   AttemptEvent.kind.in_(CANDIDATE_NOTICES)).order_by(AttemptEvent.id)
    ).all()
    return [{"id": e.id, "kind": e.kind, "at": e.at.isoformat() + "Z", "detail": e.detail} for e in rows]


#: An open flag raised less than this long ago is new: the grid puts its candidate first and says so in words.
NEW_FLAG_SECONDS = 300


def order_by_alerts(tiles: list[dict[str, Any]], now: dt.datetime) -> list[dict[str, Any]]:
    """The grid's order (issue 29): candidates with new open flags first (the newest flag first), then those
    with older open flags, then the rest as they were; each tile gets ``new_flags``, the count of its new ones.

    A tile's ``flags`` are its open flags with ``started_at`` as ISO text in UTC ("...Z")."""
    def started(flag: dict[str, Any]) -> dt.datetime:
        return dt.datetime.fromisoformat(str(flag["started_at"]).removesuffix("Z"))

    keyed = []
    for position, t in enumerate(tiles):
        times = [started(f) for f in t.get("flags") or []]
        new = [at for at in times if (now - at).total_seconds() < NEW_FLAG_SECONDS]
        t["new_flags"] = len(new)
        newest = max(times).timestamp() if times else 0.0
        keyed.append(((0 if new else 1 if times else 2), -newest if times else 0.0, position, t))
    return [k[-1] for k in sorted(keyed, key=lambda k: k[:3])]


def tile(attempt: Attempt, now: dt.datetime, open_flags: int) -> dict[str, Any]:
    """What the proctor's grid shows for one attempt."""
    return {
        "attempt_id": attempt.id, "candidate": attempt.user.display_name, "exam": attempt.exam.title,
        "remaining_seconds": remaining_seconds(attempt, now), "paused": attempt.paused_at is not None,
        "open_flags": open_flags,
    }
