"""Advisory flags: raised by automated checks, never deciding anything themselves (GDPR Art. 22).

A flag is a span: repeated observations of the same kind within ``MERGE_GAP`` extend the open
flag instead of opening a new one. A flag type silenced by an accommodation is never raised
for that candidate in that exam.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import User
from exams.attempts import record_event
from exams.models import Attempt
from kernel.db import db
from kernel.errors import Conflict, NotFound, ValidationFailed
from proctoring.models import Accommodation, Flag, FlagKind, FlagStatus

MERGE_GAP = dt.timedelta(seconds=10)


def silenced_kinds(attempt: Attempt) -> set[FlagKind]:
    """Flag types silenced for this candidate in this exam."""
    return set(db.session.scalars(
        select(Accommodation.flag_kind).where(Accommodation.user_id == attempt.user_id,
                                              Accommodation.exam_id == attempt.exam_id)
    ))


def raise_flag(attempt: Attempt, kind: FlagKind, now: dt.datetime, **detail: Any) -> Flag | None:
    """Open or extend a flag of ``kind``; returns None when the kind is silenced for this candidate."""
    if kind in silenced_kinds(attempt):
        return None
    recent = db.session.scalar(
        select(Flag).where(Flag.attempt_id == attempt.id, Flag.kind == kind, Flag.status == FlagStatus.OPEN,
                           Flag.last_seen_at >= now - MERGE_GAP).order_by(Flag.id.desc()).limit(1)
    )
    if recent is not None:
        recent.last_seen_at = now
        db.session.commit()
        return recent
    flag = Flag(attempt_id=attempt.id, kind=kind, started_at=now, last_seen_at=now, detail=detail)
    db.session.add(flag)
    record_event(attempt, "flag", now, flag=kind.value, **detail)
    db.session.commit()
    from lti.proctoring import tell_platform  # a platform's assessment under LTI Proctoring gets the flag too

    tell_platform(attempt.user_id, attempt.exam_id, "flag", kind.value)
    return flag


def flags_of(attempt: Attempt) -> Sequence[Flag]:
    """All flags of an attempt in time order."""
    return db.session.scalars(select(Flag).where(Flag.attempt_id == attempt.id).order_by(Flag.started_at)).all()


def flag_of(attempt: Attempt, flag_id: int) -> Flag:
    """One flag of this attempt; NotFound for any other id (another attempt's flag reveals nothing)."""
    flag = db.session.get(Flag, flag_id)
    if flag is None or flag.attempt_id != attempt.id:
        raise NotFound()
    return flag


def resolve_flag(flag_id: int, attempt: Attempt, reviewer: User, confirmed: bool, note: str,
                 now: dt.datetime) -> Flag:
    """A human dismisses or confirms a flag, with a note (required to confirm: it says what was seen).

    The decision goes on the attempt's timeline; a decided flag stays decided (Conflict).
    """
    flag = flag_of(attempt, flag_id)
    note = (note or "").strip()
    if flag.status != FlagStatus.OPEN:
        raise Conflict(_("This flag has already been decided."))
    if confirmed and not note:
        raise ValidationFailed(_("Please note what you saw to confirm the flag."), fields={"note": "required"})
    flag.status = FlagStatus.CONFIRMED if confirmed else FlagStatus.DISMISSED
    flag.reviewed_by_id, flag.reviewed_at, flag.note = reviewer.id, now, note[:2000]
    record_event(attempt, "flag_confirmed" if confirmed else "flag_dismissed", now, actor=reviewer,
                 flag=flag.kind.value, flag_id=flag.id, note=note[:2000])
    db.session.commit()
    return flag


def add_accommodation(user_id: int, exam_id: int, kind: FlagKind, reason: str, by: User) -> Accommodation:
    """Silence a flag type for one candidate in one exam."""
    existing = db.session.scalar(select(Accommodation).where(
        Accommodation.user_id == user_id, Accommodation.exam_id == exam_id, Accommodation.flag_kind == kind))
    if existing is not None:
        return existing
    acc = Accommodation(user_id=user_id, exam_id=exam_id, flag_kind=kind, reason=reason[:200], created_by_id=by.id)
    db.session.add(acc)
    db.session.commit()
    return acc
