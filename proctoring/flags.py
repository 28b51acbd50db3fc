"""Advisory flags: raised by automated checks, never deciding anything themselves (GDPR Art. 22).

A flag is a span: repeated observations of the same kind within ``MERGE_GAP`` extend the open
flag instead of opening a new one. A flag type silenced by an accommodation is never raised
for that candidate in that exam.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import User
from exams.attempts import record_event
from exams.models import Attempt
from kernel import supervision
from kernel.db import db
from kernel.errors import Conflict, NotFound, ValidationFailed
from proctoring.models import Accommodation, Flag, FlagKind, FlagStatus

MERGE_GAP = dt.timedelta(seconds=10)
EVIDENCE = ("recording", "snapshot")  # what a person looks at before deciding a flag after the exam
#: Called in the flag's transaction when a flag is ``"raised"``, ``"extended"`` or ``"cleared"`` (a detector saw its
#: condition end); the oversight layer logs detector runs here (``oversight.runlog``), since the domain does not
#: import the layer above it.
ON_FLAG: list[Callable[[Flag, str], None]] = []


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
        for listener in ON_FLAG:
            listener(recent, "extended")
        db.session.commit()
        return recent
    flag = Flag(attempt_id=attempt.id, kind=kind, started_at=now, last_seen_at=now, detail=detail)
    db.session.add(flag)
    db.session.flush()
    for listener in ON_FLAG:
        listener(flag, "raised")
    record_event(attempt, "flag", now, flag=kind.value, **detail)
    db.session.commit()
    supervision.announce(attempt.user_id, attempt.exam_id, "flag", kind.value)  # e.g. a platform's assessment (lti)
    return flag


def clear_flag(attempt: Attempt, kind: FlagKind, now: dt.datetime) -> Flag | None:
    """A detector saw the condition of ``kind`` end (a face back, one face again): the open flag's span ends here.

    The flag stays open for a person to decide; only the detector-run log learns of the clearing run (once per
    flag). Returns the flag, or None when none of ``kind`` was open and recent.
    """
    flag = db.session.scalar(
        select(Flag).where(Flag.attempt_id == attempt.id, Flag.kind == kind, Flag.status == FlagStatus.OPEN,
                           Flag.last_seen_at >= now - MERGE_GAP).order_by(Flag.id.desc()).limit(1))
    if flag is None:
        return None
    for listener in ON_FLAG:
        listener(flag, "cleared")
    db.session.commit()
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


def evidence_held(attempt: Attempt) -> bool:
    """Whether the attempt's recording or a snapshot of it is still held (the evidence a decision is taken on)."""
    from storage.models import Blob, BlobState

    return db.session.scalar(select(Blob.id).where(
        Blob.attempt_id == attempt.id, Blob.category.in_(EVIDENCE), Blob.state == BlobState.COMPLETE).limit(1)) \
        is not None


#: How far around a flag's span a snapshot or a recording part still shows it (a snapshot is taken a few seconds after
#: what it shows; a candidate's face comes back some seconds after a flag's last observation).
EVIDENCE_MARGIN = dt.timedelta(seconds=30)


def note_view(attempt: Attempt, viewer: User, blob_id: int, now: dt.datetime) -> None:
    """Remember which stretch of the attempt a person opened: a recording part's time, or a snapshot's moment.

    Called whenever a part is opened for playback or a snapshot is shown (the audit log keeps one entry per window;
    this keeps every file's first opening, so a decision can be checked against the flag's own span).
    """
    from proctoring.models import EvidenceView
    from storage.models import Blob

    blob = db.session.get(Blob, blob_id)
    if blob is None or blob.attempt_id != attempt.id or blob.category not in EVIDENCE:
        return
    if db.session.scalar(select(EvidenceView.id).where(EvidenceView.viewer_id == viewer.id,
                                                       EvidenceView.blob_id == blob_id).limit(1)) is not None:
        return
    start = blob.created_at
    if blob.category == "recording":
        from proctoring.playback import playback_of

        ready = playback_of(blob)
        if ready is not None and ready.started_at is not None:
            start = ready.started_at
    end = blob.completed_at or now if blob.category == "recording" else start
    from sqlalchemy.exc import IntegrityError

    try:
        with db.session.begin_nested():  # the player's range requests come in parallel: the first one writes it
            db.session.add(EvidenceView(attempt_id=attempt.id, viewer_id=viewer.id, blob_id=blob_id, at=now,
                                        span_start=start, span_end=max(start, end)))
    except IntegrityError:
        pass  # another request of the same player noted this file a moment ago
    db.session.commit()


def evidence_opened(attempt: Attempt, viewer: User, now: dt.datetime, flag: Flag | None = None) -> bool:
    """Whether ``viewer`` opened, by ``now``, a recording part or a snapshot that shows ``flag``'s span (within
    ``EVIDENCE_MARGIN``); without ``flag``, any of the attempt's evidence."""
    from proctoring.models import EvidenceView

    query = select(EvidenceView.id).where(EvidenceView.attempt_id == attempt.id, EvidenceView.viewer_id == viewer.id,
                                          EvidenceView.at <= now)
    if flag is not None:
        query = query.where(EvidenceView.span_start <= flag.last_seen_at + EVIDENCE_MARGIN,
                            EvidenceView.span_end >= flag.started_at - EVIDENCE_MARGIN)
    return db.session.scalar(query.limit(1)) is not None


def resolve_flag(flag_id: int, attempt: Attempt, reviewer: User, confirmed: bool, note: str,
                 now: dt.datetime) -> Flag:
    """A human dismisses or confirms a flag, with a note (required to confirm: it says what was seen).

    After the exam, while its recording or snapshots are held, a flag is decided only by someone who opened the
    recording part or a snapshot that covers the flag's span (:func:`evidence_opened`; EU AI Act Art. 14: no
    decision on the detector's word alone); during the exam the proctor decides on the live
    picture. Whether the evidence was opened and how long the decision took go on the attempt's timeline with the
    decision (the oversight report reads them); a decided flag stays decided (Conflict).
    """
    from exams.models import AttemptStatus

    flag = flag_of(attempt, flag_id)
    note = (note or "").strip()
    if flag.status != FlagStatus.OPEN:
        raise Conflict(_("This flag has already been decided."))
    if confirmed and not note:
        raise ValidationFailed(_("Please note what you saw to confirm the flag."), fields={"note": "required"})
    opened = evidence_opened(attempt, reviewer, now, flag)
    if not opened and attempt.status != AttemptStatus.IN_PROGRESS and evidence_held(attempt):
        raise Conflict(_("Please watch the part of the recording or a snapshot that shows this flag before "
                         "deciding it."))
    flag.status = FlagStatus.CONFIRMED if confirmed else FlagStatus.DISMISSED
    flag.reviewed_by_id, flag.reviewed_at, flag.note = reviewer.id, now, note[:2000]
    record_event(attempt, "flag_confirmed" if confirmed else "flag_dismissed", now, actor=reviewer,
                 flag=flag.kind.value, flag_id=flag.id, note=note[:2000], evidence_opened=opened,
                 seconds_to_decision=max(0, round((now - flag.last_seen_at).total_seconds())))
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
