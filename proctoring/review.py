"""After the attempt: the review of timeline, flags and recording, and its outcome (clean / findings).

Playback decrypts only the segments a byte range needs, one batch at a time (a whole part is never in
memory), and plays the part's seekable copy once the remux job made it (``proctoring.playback``). Every
opening of a recording, whatever range is read, is written to the staff access log and the attempt's
timeline (who, when), and nothing is served once retention has purged it (410).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _
from flask_babel import pgettext
from sqlalchemy import Select, case, func, select

from accounts.models import Role, User
from exams.attempts import record_event
from exams.models import Attempt, AttemptStatus, Exam, ExamSession, exam_proctor
from kernel.db import db
from kernel.errors import Conflict, Gone, NotFound, ValidationFailed
from proctoring.flags import note_view
from proctoring.models import Flag, FlagStatus, RecordingPlayback
from storage import vault
from storage.crypto import EncryptedReader
from storage.errors import StorageIntegrityError
from storage.models import Blob, BlobState

OUTCOMES = ("clean", "findings")


def recording_parts(attempt: Attempt) -> Sequence[Blob]:
    """The attempt's recording parts in order, purged ones included (shown as gone)."""
    return db.session.scalars(
        select(Blob).where(Blob.attempt_id == attempt.id, Blob.category == "recording").order_by(Blob.id)
    ).all()


def phone_parts(attempt: Attempt) -> Sequence[Blob]:
    """The attempt's parts of the phone's camera (the second camera, proctoring.phone) in order."""
    return db.session.scalars(
        select(Blob).where(Blob.attempt_id == attempt.id, Blob.category == "phone_recording").order_by(Blob.id)
    ).all()


def recording_part(attempt: Attempt, blob_id: int) -> Blob:
    """One part of this attempt's recording (the webcam's or the phone's); Gone once purged."""
    blob = db.session.get(Blob, blob_id)
    if blob is None or blob.attempt_id != attempt.id or blob.category not in ("recording", "phone_recording"):
        raise NotFound()
    if blob.state in (BlobState.PURGED, BlobState.PURGING):
        raise Gone(_("This recording has been deleted under its retention rule."))
    return blob


@dataclasses.dataclass(frozen=True)
class Part:
    """A recording part as the review shows it: the part, its seekable copy when made, where it starts."""

    blob: Blob
    playback: RecordingPlayback | None

    @property
    def started_at(self) -> dt.datetime:
        """Wall time (UTC) of the part's first frame, as far as known."""
        return self.playback.started_at if self.playback and self.playback.started_at else self.blob.created_at

    @property
    def seekable(self) -> bool:
        """Whether the player gets the remuxed copy (duration and cues) rather than the part as recorded."""
        return self.playback is not None

    @property
    def has_screen(self) -> bool:
        """Whether the part's screen has a copy of its own, played beside the camera."""
        return self.playback is not None and self.playback.screen_copy_id is not None

    @property
    def screen_started_at(self) -> dt.datetime:
        """Wall time (UTC) of the screen copy's first picture (the screen starts a little after the camera)."""
        offset = self.playback.screen_offset_ms if self.playback else None
        return self.started_at + dt.timedelta(milliseconds=offset or 0)


def parts_for_review(attempt: Attempt) -> list[Part]:
    """The attempt's recording parts in order, each with its playback copy where one is ready."""
    from proctoring.playback import playback_of

    return [Part(b, playback_of(b) if b.state not in (BlobState.PURGED, BlobState.PURGING) else None)
            for b in recording_parts(attempt)]


def phone_parts_for_review(attempt: Attempt) -> list[Part]:
    """The phone's parts, each with its playback copy where one is ready (played beside the webcam)."""
    from proctoring.playback import playback_of

    return [Part(b, playback_of(b) if b.state not in (BlobState.PURGED, BlobState.PURGING) else None)
            for b in phone_parts(attempt)]


def open_for_playback(attempt: Attempt, viewer: User, part: Blob, now: dt.datetime,
                      screen: bool = False) -> EncryptedReader:
    """A decrypting reader of the part for the player (its seekable copy when made; ``screen``: the copy of
    its screen track, NotFound without one); the opening is audited whatever byte range is read (see
    :func:`log_access`)."""
    from proctoring.playback import playback_of

    ready = playback_of(part)
    source = part
    copy_id = ready.screen_copy_id if ready is not None and screen else ready.copy_id if ready is not None else None
    if screen and copy_id is None:
        raise NotFound()
    if copy_id is not None:
        copy = db.session.get(Blob, copy_id)
        if copy is not None and copy.state == BlobState.COMPLETE:
            source = copy
        elif screen:
            raise Gone(_("This recording has been deleted under its retention rule."))
    try:
        reader = vault.open_reader(source)
    except StorageIntegrityError as err:
        raise Gone(_("This recording has been deleted under its retention rule.")) from err
    log_access(attempt, viewer, part.id, now)
    return reader


def log_access(attempt: Attempt, viewer: User, blob_id: int, now: dt.datetime) -> bool:
    """Audit: who opened the attempt's recording, when (one entry per viewer and ``ACCESS_LOG_WINDOW_SECONDS``,
    whatever range each request reads); whether this opening was logged anew."""
    from privacy.rights import Access, record_opening
    note_view(attempt, viewer, blob_id, now)  # which stretch was opened: a flag is decided on its own span
    logged = record_opening(viewer, attempt.user_id, Access("recording", "review of the exam attempt"), now,
                            attempt_id=attempt.id)
    if logged:
        record_event(attempt, "recording_viewed", now, actor=viewer, blob_id=blob_id)
        db.session.commit()
    return logged


def record_review(attempt: Attempt, reviewer: User, outcome: str, note: str, now: dt.datetime) -> None:
    """Set the review outcome (it feeds the certificate's verify page)."""
    if attempt.status == AttemptStatus.IN_PROGRESS:
        raise Conflict(_("The attempt is still running."))
    if outcome not in OUTCOMES:
        raise ValidationFailed(_("Choose clean or findings."), fields={"outcome": "clean or findings"})
    note = (note or "").strip()
    if outcome == "findings" and not note:
        raise ValidationFailed(_("Please describe the findings."), fields={"note": "required for findings"})
    attempt.review_outcome = outcome
    record_event(attempt, "reviewed", now, actor=reviewer, outcome=outcome, note=note[:2000])
    db.session.commit()


@dataclasses.dataclass(frozen=True)
class Entry:
    """One line of the review's timeline: an event, a chat message (its text) or a stored snapshot."""

    at: dt.datetime
    kind: str  # event, chat, snapshot
    label: str
    text: str = ""
    snapshot_id: int | None = None
    sender: str = ""


def snapshots_of(attempt: Attempt) -> Sequence[Blob]:
    """The attempt's stored snapshots still held, in time order."""
    return db.session.scalars(select(Blob).where(
        Blob.attempt_id == attempt.id, Blob.category == "snapshot", Blob.state == BlobState.COMPLETE)
        .order_by(Blob.created_at, Blob.id)).all()


def snapshot_bytes(attempt: Attempt, viewer: User, blob_id: int, now: dt.datetime) -> bytes:
    """One stored snapshot of the attempt, decrypted; the viewing is audited (one entry per viewer and window)."""
    from privacy.rights import Access, record_opening

    blob = db.session.get(Blob, blob_id)
    if blob is None or blob.attempt_id != attempt.id or blob.category != "snapshot":
        raise NotFound()
    if blob.state != BlobState.COMPLETE:
        raise Gone(pgettext("review", "This snapshot has been deleted under its retention rule."))
    data = vault.read(blob)
    note_view(attempt, viewer, blob.id, now)
    record_opening(viewer, attempt.user_id, Access("snapshot", "review of the exam attempt"), now,
                   attempt_id=attempt.id)
    return data


def review_timeline(events: Sequence[Any], chat: Sequence[dict[str, Any]],
                    snapshots: Sequence[Blob]) -> list[Entry]:
    """Events, chat messages (with their text, instead of the bare "chat" events) and snapshots in time order."""
    from proctoring.timeline_labels import event_label, flag_label

    entries: list[Entry] = []
    for e in events:
        if e.kind.startswith("chat_from_"):
            continue  # the message itself is listed, with its text
        detail = e.detail or {}
        text = flag_label(detail["flag"]) if e.kind == "flag" and detail.get("flag") else \
            str(detail.get("message") or detail.get("reason") or detail.get("note") or "")
        entries.append(Entry(e.at, "event", event_label(e.kind), text))
    for m in chat:
        at = dt.datetime.fromisoformat(str(m["at"]).removesuffix("Z"))
        entries.append(Entry(at, "chat", event_label(f"chat_from_{m['from']}"), str(m["text"]),
                             sender=str(m.get("name", ""))))
    for s in snapshots:
        entries.append(Entry(s.created_at, "snapshot", pgettext("review", "Snapshot"), snapshot_id=s.id))
    return sorted(entries, key=lambda x: x.at)


@dataclasses.dataclass(frozen=True)
class ToReview:
    """An ended attempt that waits for a person's review."""

    attempt: Attempt
    open_flags: int
    flags: int
    waiting: dt.timedelta


def _supervised(user: User) -> Select[Any]:
    q = select(Attempt).join(Exam, Exam.id == Attempt.exam_id).where(Exam.institution_id == user.institution_id)
    if user.role == Role.PROCTOR:
        q = q.join(exam_proctor, exam_proctor.c.exam_id == Exam.id).where(exam_proctor.c.user_id == user.id)
    return q


def review_queue(user: User, now: dt.datetime) -> list[ToReview]:
    """Ended attempts ``user`` supervises whose review the institution requires and nobody has done yet:
    most open flags first, then the longest waiting."""
    from exams.trust import review_required_sql

    attempts = db.session.scalars(_supervised(user).where(
        Attempt.status != AttemptStatus.IN_PROGRESS, Attempt.review_outcome.is_(None), review_required_sql())).all()
    counts = _flag_counts([a.id for a in attempts])
    rows = [ToReview(a, counts.get(a.id, (0, 0))[0], counts.get(a.id, (0, 0))[1], now - (a.ended_at or now))
            for a in attempts]
    return sorted(rows, key=lambda r: (-r.open_flags, -r.flags, -r.waiting.total_seconds()))


def _flag_counts(ids: list[int]) -> dict[int, tuple[int, int]]:
    """attempt id -> (open flags, all flags)."""
    if not ids:
        return {}
    rows = db.session.execute(select(Flag.attempt_id, func.count(), func.sum(case((Flag.status == FlagStatus.OPEN, 1),
                                                                                  else_=0)))
                              .where(Flag.attempt_id.in_(ids)).group_by(Flag.attempt_id)).all()
    return {aid: (int(open_ or 0), int(total)) for aid, total, open_ in rows}


@dataclasses.dataclass(frozen=True)
class TodaySession:
    """One of today's exams on the proctor's home page, with its live counts."""

    exam: Exam
    in_progress: int
    waiting_identity: int
    open_flags: int
    slots: list[tuple[dt.datetime, dt.datetime]] = dataclasses.field(default_factory=list)
    """Today's sittings of the exam (start, end; stored UTC); empty where the exam has none."""


def today_sessions(user: User, now: dt.datetime) -> list[TodaySession]:
    """Exams ``user`` supervises that are open at some time today, with what waits in each.

    "Today" is the calendar day in the institution's time zone (midnight to midnight there, in stored UTC).
    """
    from idcheck.models import IdCheck, IdCheckStatus
    from kernel.clock import from_local, to_local

    tz = user.institution.timezone if user.institution is not None else None
    local_day = to_local(now, tz).date()
    start = from_local(dt.datetime.combine(local_day, dt.time()), tz)
    end = from_local(dt.datetime.combine(local_day + dt.timedelta(days=1), dt.time()), tz)
    q = select(Exam).where(Exam.institution_id == user.institution_id, Exam.opens_at < end, Exam.closes_at > start)
    if user.role == Role.PROCTOR:
        q = q.join(exam_proctor, exam_proctor.c.exam_id == Exam.id).where(exam_proctor.c.user_id == user.id)
    out = []
    for exam in db.session.scalars(q.order_by(Exam.opens_at)).all():
        running = select(Attempt.id).where(Attempt.exam_id == exam.id, Attempt.status == AttemptStatus.IN_PROGRESS)
        out.append(TodaySession(
            exam,
            db.session.scalar(select(func.count()).select_from(running.subquery())) or 0,
            db.session.scalar(select(func.count()).select_from(IdCheck).where(
                IdCheck.exam_id == exam.id, IdCheck.status.in_([IdCheckStatus.MANUAL, IdCheckStatus.REVIEW]))) or 0,
            db.session.scalar(select(func.count()).select_from(Flag).where(
                Flag.attempt_id.in_(running), Flag.status == FlagStatus.OPEN)) or 0,
            [(s.starts_at, s.ends_at) for s in db.session.scalars(select(ExamSession).where(
                ExamSession.exam_id == exam.id, ExamSession.starts_at < end, ExamSession.ends_at > start,
            ).order_by(ExamSession.starts_at)).all()],
        ))
    return out
