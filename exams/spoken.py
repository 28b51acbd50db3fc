"""Spoken answers (issue 32): the candidate speaks an answer of a set length after a set preparation time.

Nothing is uploaded: the candidate's microphone already flows through the media engine into the attempt's encrypted
recording (``storage.vault``, category ``recording``). The answer is a span of that recording, and only the server
sets it, by its own clock:

- The candidate presses the item's start button; :func:`start_take` records the start and stores the answer
  ``{"prepared_from", "started", "ends", "take"}`` (ISO 8601, UTC): preparation runs from the press, the answer
  span begins ``preparation_seconds`` later and ends ``answer_seconds`` after that. The page only counts down.
- One take per item, or two where the item says ``retry: true`` (the last take counts). A take that is still
  running cannot be started again; two presses at once give one take (the attempt's row is locked, and the answer
  row is written only if nobody wrote it meanwhile).
- A take is refused while the attempt's media session is not live (no recording part being written): there
  would be nothing to hear. It is refused too when it would end after the attempt's deadline.
- The answer API never writes a spoken answer (``exams.itemanswers.clean_answer`` refuses it, even clearing).

The grader hears the span in the review player (a timeline event ``spoken_started`` marks it, as the room scan's
events mark the scan) and grades by hand, with the item's rubric where it has one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from exams.attempts import (
    DEADLINE_GRACE,
    AttemptClosed,
    AttemptPaused,
    attempt_spec,
    check_attempt_gates,
    record_event,
)
from exams.models import Answer, Attempt, AttemptEvent, AttemptStatus
from exams.questions import QuestionKind, QuestionSpec
from kernel.db import db
from kernel.errors import Conflict, NotFound
from storage.models import Blob, BlobState

EVENT = "spoken_started"
#: Timeline entries (from the media engine or the candidate's browser) after which a take may not be wholly in the
#: recording: the grader is told, and decides (the take is not given back by itself).
INTERRUPTIONS = ("media_disconnected", "microphone_lost", "camera_lost", "recording_failed")


class MediaNotLive(Conflict):
    """No recording part of the attempt is being written: a spoken answer would not be recorded."""

    code = "media_not_live"


@dataclasses.dataclass(frozen=True)
class Span:
    """One take of a spoken answer: preparation from ``prepared_from``, the answer from ``started`` to ``ends``."""

    prepared_from: dt.datetime
    started: dt.datetime
    ends: dt.datetime
    take: int


def _iso(at: dt.datetime) -> str:
    return at.isoformat(timespec="milliseconds") + "Z"


def _moment(text: Any) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def span_of(value: Any) -> Span | None:
    """The take stored as a spoken answer, or None (no take, or not the server's shape)."""
    if not isinstance(value, dict):
        return None
    moments = [_moment(value.get(k)) for k in ("prepared_from", "started", "ends")]
    take = value.get("take")
    if any(m is None for m in moments) or not isinstance(take, int):
        return None
    prepared_from, started, ends = moments
    assert prepared_from is not None and started is not None and ends is not None  # noqa: S101 (narrowing)
    return Span(prepared_from, started, ends, take)


def takes_allowed(question: QuestionSpec) -> int:
    """How many takes the item allows: one, or two with ``retry``."""
    return 2 if question.retry else 1


@dataclasses.dataclass(frozen=True)
class SpokenState:
    """Where one spoken item of an attempt stands, by the server's clock."""

    question: QuestionSpec
    span: Span | None
    phase: str  # ready | preparing | recording | done
    can_start: bool

    def as_json(self, now: dt.datetime) -> dict[str, Any]:
        """The state as the candidate's page reads it (seconds left by the server's clock)."""
        span = self.span
        return {
            "question_id": self.question.id, "phase": self.phase, "can_start": self.can_start,
            "take": span.take if span else 0, "takes_allowed": takes_allowed(self.question),
            "preparation_seconds": self.question.preparation_seconds,
            "answer_seconds": self.question.answer_seconds,
            "seconds_to_answer": max(0.0, (span.started - now).total_seconds()) if span else None,
            "seconds_left": max(0.0, (span.ends - now).total_seconds()) if span else None,
            "started": _iso(span.started) if span else None, "ends": _iso(span.ends) if span else None,
        }


def _question(attempt: Attempt, question_id: str) -> QuestionSpec:
    question = attempt_spec(attempt).question(question_id)
    if question is None or question.kind is not QuestionKind.SPOKEN:
        raise NotFound(_("This exam has no such spoken item."))
    return question


def _row(attempt: Attempt, question_id: str) -> Answer | None:
    return db.session.scalar(select(Answer).where(Answer.attempt_id == attempt.id, Answer.question_id == question_id))


def _state(attempt: Attempt, question: QuestionSpec, row: Answer | None, now: dt.datetime) -> SpokenState:
    span = span_of(row.value) if row is not None else None
    if span is None:
        phase = "ready"
    elif now < span.started:
        phase = "preparing"
    elif now < span.ends:
        phase = "recording"
    else:
        phase = "done"
    takes = span.take if span else 0
    can = (attempt.status == AttemptStatus.IN_PROGRESS and phase in ("ready", "done")
           and takes < takes_allowed(question))
    return SpokenState(question, span, phase, can)


def spoken_state(attempt: Attempt, question_id: str, now: dt.datetime) -> SpokenState:
    """The item's state for the candidate's page (NotFound for an item that is not spoken or not in the attempt)."""
    question = _question(attempt, question_id)
    return _state(attempt, question, _row(attempt, question_id), now)


def media_live(attempt: Attempt) -> bool:
    """Whether a part of the attempt's webcam and microphone recording is being written now."""
    return db.session.scalar(select(Blob.id).where(
        Blob.attempt_id == attempt.id, Blob.category == "recording", Blob.state == BlobState.WRITING,
        Blob.completed_at.is_(None)).limit(1)) is not None


def start_take(attempt: Attempt, question_id: str, now: dt.datetime) -> SpokenState:
    """Start a take: preparation now, the answer span after it (see the module docstring for what is refused)."""
    # one start of an attempt's take at a time: a double click or a second tab must not give two takes
    db.session.scalars(select(Attempt).where(Attempt.id == attempt.id).with_for_update()).one()
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise AttemptClosed(_("This attempt has ended; answers can no longer be changed."))
    if now > attempt.deadline_at + DEADLINE_GRACE:
        raise AttemptClosed(_("Time is up; answers given after the deadline are not accepted."))
    if attempt.paused_at is not None:
        raise AttemptPaused(_("The supervision has paused your exam. Your time is stopped; please wait."))
    check_attempt_gates(attempt)
    question = _question(attempt, question_id)
    row = _row(attempt, question_id)
    state = _state(attempt, question, row, now)
    if state.phase in ("preparing", "recording"):
        raise Conflict(_("This answer is being recorded now."))
    if not state.can_start:
        raise Conflict(_("This answer has been recorded; the item allows no further take."))
    if not media_live(attempt):
        raise MediaNotLive(_("Your camera and microphone are not being recorded right now, so your answer could not "
                             "be heard. Please wait until the connection is back (see the notice at the top), then "
                             "start again."))
    started = now + dt.timedelta(seconds=question.preparation_seconds)
    ends = started + dt.timedelta(seconds=question.answer_seconds)
    if ends > attempt.deadline_at:
        raise Conflict(_("Too little time is left in the exam for this answer."))
    take = (state.span.take if state.span else 0) + 1
    value = {"prepared_from": _iso(now), "started": _iso(started), "ends": _iso(ends), "take": take}
    taken = _("This answer has just been started in another window.")
    if row is None:
        db.session.add(Answer(attempt_id=attempt.id, question_id=question_id, value=value, saved_at=now))
        try:
            db.session.flush()
        except IntegrityError:  # another tab started the first take meanwhile
            db.session.rollback()
            raise Conflict(taken) from None
    else:
        # written only if nobody wrote it since it was read (a retry pressed twice at once gives one take)
        done = db.session.execute(update(Answer).where(Answer.id == row.id, Answer.saved_at == row.saved_at)
                                  .values(value=value, saved_at=now).execution_options(synchronize_session=False))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            db.session.rollback()
            raise Conflict(taken)
    record_event(attempt, EVENT, now, question_id=question_id, take=take, started=value["started"],
                 ends=value["ends"], seconds=question.answer_seconds)
    db.session.commit()
    db.session.expire_all()
    return spoken_state(attempt, question_id, now)


def spans_for_review(attempt: Attempt) -> dict[str, Span]:
    """Question id -> the take that counts, for each spoken item of the attempt that has one (the grader's player)."""
    spec = attempt_spec(attempt)
    out = {}
    for row in db.session.scalars(select(Answer).where(Answer.attempt_id == attempt.id)):
        q = spec.question(row.question_id)
        span = span_of(row.value) if q is not None and q.kind is QuestionKind.SPOKEN else None
        if span is not None:
            out[row.question_id] = span
    return out


def interrupted(attempt: Attempt, span: Span) -> bool:
    """Whether the camera, microphone or recording was lost during the take (preparation included)."""
    return db.session.scalar(select(AttemptEvent.id).where(
        AttemptEvent.attempt_id == attempt.id, AttemptEvent.kind.in_(INTERRUPTIONS),
        AttemptEvent.at >= span.prepared_from, AttemptEvent.at <= span.ends).limit(1)) is not None
