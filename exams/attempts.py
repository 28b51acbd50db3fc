"""Taking an exam: start, autosave, deadline, submit, grading. The server's clock decides.

Every answer is stored the moment it is given (one row per question, last write wins), so a
reload, a crashed browser or a lost connection loses nothing already answered; the attempt
resumes with the same question order because the layout is fixed at start.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from accounts.models import Role, User
from accounts.services import require_verified_email
from exams.itemanswers import candidate_parts, clean_answer
from exams.models import Answer, Attempt, AttemptEvent, AttemptStatus, Enrolment, Exam, ExtraTime, extra_minutes
from exams.questions import ExamSpec, attempt_items, draw_items, score_attempt, shuffled_order
from exams.rules import meets_minimum_age
from exams.schema import exam_from_data
from kernel.clock import format_local
from kernel.db import db
from kernel.errors import Conflict, DomainError, NotFound

log = logging.getLogger(__name__)
# A save that arrives this long after the deadline is still refused: the page submits at zero.
DEADLINE_GRACE = dt.timedelta(seconds=0)
# A candidate may start this long before their session's time slot (camera set-up, identity check).
EARLY_START = dt.timedelta(minutes=15)


class AttemptClosed(Conflict):
    """The attempt no longer takes answers (deadline passed, submitted or terminated)."""

    code = "attempt_closed"


class AttemptPaused(Conflict):
    """A proctor paused the attempt: no answers until resumed (the time left is kept)."""

    code = "attempt_paused"


class GateNotPassed(Conflict):
    """A precondition of the exam (identity check, proctoring connection) is not met yet."""

    code = "gate_not_passed"

    def __init__(self, message: str, *, gate: str) -> None:
        super().__init__(message)
        self.gate = gate


# Preconditions other packages plug in (identity check, proctoring); each raises GateNotPassed.
Gate = Callable[[User, Exam], None]
GATES: list[Gate] = []


def register_gate(gate: Gate) -> Gate:
    """Add a precondition every attempt start checks."""
    GATES.append(gate)
    return gate


# Preconditions of answering inside a started attempt (the room scan before the start: proctoring.roomscan); each
# raises GateNotPassed. The exam page shows no questions and the answer API refuses until all are passed.
AttemptGate = Callable[[Attempt], None]
ATTEMPT_GATES: list[AttemptGate] = []


def register_attempt_gate(gate: AttemptGate) -> AttemptGate:
    """Add a precondition that a started attempt must pass before its questions are shown and answered."""
    ATTEMPT_GATES.append(gate)
    return gate


def check_attempt_gates(attempt: Attempt) -> None:
    """Raise GateNotPassed while a precondition of answering this attempt is not met."""
    for gate in ATTEMPT_GATES:
        gate(attempt)


def exam_spec(exam: Exam) -> ExamSpec:
    """The exam row as the domain spec used for grading and layout.

    Every request of an attempt (the page, each answer, each picture and recording) needs it; building the spec of
    a 60-item exam takes some milliseconds, so specs are kept per content (an edited exam is another key)."""
    data = _exam_data(exam)
    key = json.dumps(data, sort_keys=True, default=repr)
    spec = _SPECS.get(key)
    if spec is None:
        if len(_SPECS) >= 256:
            _SPECS.clear()
        spec = _SPECS[key] = exam_from_data(data)
    return spec


_SPECS: dict[str, ExamSpec] = {}  # by the exam's content: a spec is immutable, an edited exam is another key


def _exam_data(exam: Exam) -> dict[str, Any]:
    return {
        "title": exam.title, "description": exam.description, "duration_minutes": exam.duration_minutes,
        "window": {"opens_at": f"{exam.opens_at.isoformat()}+00:00",
                   "closes_at": f"{exam.closes_at.isoformat()}+00:00"},
        "pass_mark_percent": exam.pass_mark_percent, "minimum_age": exam.minimum_age,
        "identity_check_required": exam.identity_check_required, "proctoring_required": exam.proctoring_required,
        "shuffle_questions": exam.shuffle_questions, "shuffle_options": exam.shuffle_options,
        "screen_capture": exam.screen_capture, "room_scan_required": exam.room_scan_required,
        "second_camera": exam.second_camera,
        "seb_required": exam.seb_required, "seb_browser_exam_keys": list(exam.seb_browser_exam_keys or []),
        "questions": exam.questions, "pool": exam.pool or [], "draw": exam.draws or [],
    }


def attempt_spec(attempt: Attempt) -> ExamSpec:
    """The exam as this attempt has it: its questions and the pool items drawn for it at the start, nothing else.

    Everything about one attempt (the page, answers, grading, its maximum, review and appeal) goes through this, so a
    candidate's pool items are exactly the stored draw; an attempt of an exam without a pool gets every question."""
    return attempt_items(exam_spec(attempt.exam), drawn_items(attempt))


def drawn_items(attempt: Attempt) -> list[str]:
    """The pool item ids drawn for this attempt at its start (empty for an exam without a pool)."""
    return list((attempt.layout or {}).get("drawn") or [])


def start_attempt(candidate: User, exam: Exam, now: dt.datetime) -> Attempt:
    """Start (or resume) the candidate's attempt, inside the window and once every gate is passed."""
    if candidate.role != Role.CANDIDATE or candidate.institution_id != exam.institution_id:
        raise NotFound()
    require_verified_email(candidate)
    existing = db.session.scalar(select(Attempt).where(Attempt.exam_id == exam.id, Attempt.user_id == candidate.id,
                                                       Attempt.status == AttemptStatus.IN_PROGRESS))
    if existing is not None:
        return existing
    _check_start(candidate, exam, now)
    seed = secrets.randbelow(2**31)
    layout = new_layout(exam_spec(exam), seed)
    extra = extra_minutes_for(candidate, exam)
    attempt = Attempt(
        exam=exam, user=candidate, started_at=now,
        deadline_at=now + dt.timedelta(minutes=exam.duration_minutes + extra), seed=seed, layout=layout,
    )
    db.session.add(attempt)
    try:
        db.session.flush()
    except IntegrityError:  # pragma: no cover - two tabs racing; the other one won
        db.session.rollback()
        return start_attempt(candidate, exam, now)
    record_event(attempt, "started", now)
    if extra:
        record_event(attempt, "extra_time_applied", now, minutes=extra)
    db.session.commit()
    return attempt


def new_layout(spec: ExamSpec, seed: int) -> dict[str, Any]:
    """An attempt's layout from its seed: the pool items drawn (stored, so the draw never changes), the question
    order and the option order per question."""
    drawn = draw_items(spec, seed)
    order = shuffled_order(attempt_items(spec, drawn), seed)
    layout: dict[str, Any] = {"questions": list(order.question_ids),
                              "options": {k: list(v) for k, v in order.option_ids.items()}}
    if spec.draws:
        layout["drawn"] = list(drawn)
    return layout


def _check_start(candidate: User, exam: Exam, now: dt.datetime) -> None:
    """Raise what keeps a new attempt from starting now: roster, window, profile, age, then every gate."""
    _check_roster(candidate, exam, now)
    if not exam.opens_at <= now < exam.closes_at:
        tz = exam.institution.timezone
        raise Conflict(_("This exam is not open now. It is open from %(a)s to %(b)s.",
                         a=format_local(exam.opens_at, tz), b=format_local(exam.closes_at, tz)))
    profile = candidate.profile
    if profile is None:  # signed in through an OpenID provider and not yet asked (app/views/sso.py)
        raise Conflict(_("Please complete your profile first (address, phone, date of birth, ID number)."))
    if not meets_minimum_age(profile.date_of_birth, now.date(), exam.minimum_age):
        raise Conflict(_("This exam requires a minimum age of %(n)d years.", n=exam.minimum_age or 0))
    for gate in GATES:
        gate(candidate, exam)


@dataclasses.dataclass(frozen=True)
class StartState:
    """What the exam page says before the start: the gates not passed yet and why a start would be refused."""

    open_gates: frozenset[str]  # GateNotPassed.gate of each precondition not met ("identity", "proctoring", ...)
    refusal: str | None  # the message a start now would answer; None: it would start (or resume)


def start_state(candidate: User, exam: Exam, now: dt.datetime) -> StartState:
    """Whether ``start_attempt`` would start now and, if not, why; each gate asked on its own (nothing changes)."""
    open_gates = set()
    for gate in GATES:
        try:
            gate(candidate, exam)
        except GateNotPassed as err:
            open_gates.add(err.gate)
    if db.session.scalar(select(Attempt.id).where(Attempt.exam_id == exam.id, Attempt.user_id == candidate.id,
                                                  Attempt.status == AttemptStatus.IN_PROGRESS)) is not None:
        return StartState(frozenset(open_gates), None)
    try:
        require_verified_email(candidate)
        _check_start(candidate, exam, now)
    except DomainError as err:
        return StartState(frozenset(open_gates), err.message)
    return StartState(frozenset(open_gates), None)


def extra_minutes_for(candidate: User, exam: Exam) -> int:
    """Minutes the exam office granted this candidate on top of the exam's duration (0 without an accommodation)."""
    row = db.session.scalar(select(ExtraTime).where(ExtraTime.exam_id == exam.id, ExtraTime.user_id == candidate.id))
    if row is None:
        return 0
    return extra_minutes(row.extra_minutes, row.extra_percent, exam.duration_minutes)


def _check_roster(candidate: User, exam: Exam, now: dt.datetime) -> None:
    """Raise unless the candidate is enrolled (exams.rosters), has an attempt left, and it is their session's time."""
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.exam_id == exam.id,
                                                          Enrolment.user_id == candidate.id))
    if enrolment is None:
        raise NotFound()
    taken = db.session.scalar(select(func.count()).select_from(Attempt).where(
        Attempt.exam_id == exam.id, Attempt.user_id == candidate.id)) or 0
    if taken >= enrolment.attempts_allowed:
        raise Conflict(_("You have already taken this exam. Another attempt needs the exam office's approval."))
    session = enrolment.session
    if session is not None and not session.starts_at - EARLY_START <= now < session.ends_at:
        tz = exam.institution.timezone
        raise Conflict(_("Your session is %(when)s; you can start from %(minutes)d minutes before.",
                         when=f"{format_local(session.starts_at, tz)} – {format_local(session.ends_at, tz)}",
                         minutes=int(EARLY_START.total_seconds() // 60)))


def get_attempt_for(user: User, attempt_id: int) -> Attempt:
    """The attempt if ``user`` is its candidate; otherwise NotFound (IDs reveal nothing)."""
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != user.id:
        raise NotFound()
    return attempt


def remaining_seconds(attempt: Attempt, now: dt.datetime) -> int:
    """Seconds left by the server's clock (0 once ended)."""
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return 0
    # While paused the clock stands still at the moment of the pause.
    at = attempt.paused_at or now
    return max(0, int((attempt.deadline_at - at).total_seconds()))


def answers_of(attempt: Attempt) -> dict[str, Any]:
    """Saved answers by question id."""
    rows = db.session.scalars(select(Answer).where(Answer.attempt_id == attempt.id)).all()
    return {a.question_id: a.value for a in rows}


def save_answer(attempt: Attempt, question_id: str, value: Any, now: dt.datetime) -> Answer:
    """Store the answer to one question now; refused once the attempt is closed."""
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise AttemptClosed(_("This attempt has ended; answers can no longer be changed."))
    if now > attempt.deadline_at + DEADLINE_GRACE:
        raise AttemptClosed(_("Time is up; answers given after the deadline are not accepted."))
    if attempt.paused_at is not None:
        raise AttemptPaused(_("The supervision has paused your exam. Your time is stopped; please wait."))
    check_attempt_gates(attempt)
    question = attempt_spec(attempt).question(question_id)
    if question is None:  # not in the exam, or a pool item not drawn for this attempt: the same answer for both
        raise NotFound(_("This exam has no such question."))
    value = clean_answer(question, value)
    answer = db.session.scalar(
        select(Answer).where(Answer.attempt_id == attempt.id, Answer.question_id == question_id)
    )
    if answer is None:
        answer = Answer(attempt_id=attempt.id, question_id=question_id, value=value, saved_at=now)
        db.session.add(answer)
        try:
            db.session.commit()
            return answer
        except IntegrityError:  # another tab saved the same question first: update that row
            db.session.rollback()
            answer = db.session.scalars(
                select(Answer).where(Answer.attempt_id == attempt.id, Answer.question_id == question_id)
            ).one()
    answer.value = value
    answer.saved_at = now
    db.session.commit()
    return answer


def submit_attempt(attempt: Attempt, now: dt.datetime, *, reason: str = "submitted") -> Attempt:
    """Close the attempt and grade what can be graded automatically; a second submit changes nothing."""
    locked = db.session.scalars(select(Attempt).where(Attempt.id == attempt.id).with_for_update()).one()
    if locked.status != AttemptStatus.IN_PROGRESS:
        db.session.commit()
        return locked
    locked.status = AttemptStatus.SUBMITTED
    locked.ended_at = min(now, locked.deadline_at)
    regrade_attempt(locked)
    record_event(locked, reason, now)
    db.session.commit()
    return locked


def regrade_attempt(attempt: Attempt) -> None:
    """Recompute points, percent and pass from the saved answers and manual points (caller commits).

    Only the attempt's own items count (its questions and its drawn pool items), and its maximum is theirs."""
    spec = attempt_spec(attempt)
    rows = [a for a in db.session.scalars(select(Answer).where(Answer.attempt_id == attempt.id)).all()
            if spec.question(a.question_id) is not None]
    manual = {a.question_id: a.manual_points for a in rows if a.manual_points is not None}
    result = score_attempt(spec, {a.question_id: a.value for a in rows}, manual)
    attempt.points, attempt.max_points = result.points, result.max_points
    attempt.percent = int(result.percent)
    attempt.passed = result.passed
    attempt.pending_manual = bool(result.pending_manual)


def terminate_attempt(attempt: Attempt, actor: User, reason: str, now: dt.datetime) -> Attempt:
    """End an attempt early (proctor action); answers saved so far are kept and graded."""
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return attempt
    attempt.status = AttemptStatus.TERMINATED
    attempt.ended_at = now
    regrade_attempt(attempt)
    record_event(attempt, "terminated", now, actor=actor, reason=reason)
    db.session.commit()
    return attempt


def close_expired_attempts(now: dt.datetime) -> int:
    """Submit every attempt whose deadline has passed (the browser may be gone); returns how many."""
    ids = db.session.scalars(
        select(Attempt.id).where(Attempt.status == AttemptStatus.IN_PROGRESS, Attempt.deadline_at < now,
                                 Attempt.paused_at.is_(None))
    ).all()
    for attempt_id in ids:
        attempt = db.session.get(Attempt, attempt_id)
        if attempt is not None:
            submit_attempt(attempt, now, reason="submitted_at_deadline")
    return len(ids)


#: Called in the entry's transaction for every timeline entry (``attempt, kind, now, detail``): a layer above
#: learns of results released, certificates issued or revoked and appeals decided here (``results.webhooks``), as
#: the domain does not import it. A listener adds to the session only; the caller's commit keeps or drops both.
ON_EVENT: list[Callable[[Attempt, str, dt.datetime, dict[str, Any]], None]] = []


def record_event(attempt: Attempt, kind: str, now: dt.datetime, actor: User | None = None, **detail: Any) -> None:
    """Append an entry to the attempt's timeline (caller commits)."""
    json.dumps(detail)  # fail early on values that cannot be stored
    db.session.add(AttemptEvent(attempt_id=attempt.id, at=now, kind=kind, actor_id=actor.id if actor else None,
                                detail=detail))
    for listener in ON_EVENT:
        listener(attempt, kind, now, detail)


def timeline(attempt: Attempt) -> Sequence[AttemptEvent]:
    """The attempt's events in time order."""
    return db.session.scalars(
        select(AttemptEvent).where(AttemptEvent.attempt_id == attempt.id).order_by(AttemptEvent.at, AttemptEvent.id)
    ).all()


@dataclasses.dataclass(frozen=True)
class QuestionView:
    """A question as the candidate sees it: prompt, options in this attempt's order, no solutions."""

    id: str
    kind: str
    prompt: str
    points: int
    options: list[tuple[str, str]]
    answer: Any
    parts: dict[str, Any] = dataclasses.field(default_factory=dict)  # per item type, never a solution


def questions_for(attempt: Attempt) -> list[QuestionView]:
    """The attempt's questions in its fixed order, with the saved answers, never revealing solutions."""
    spec = attempt_spec(attempt)
    saved = answers_of(attempt)
    order = attempt.layout.get("questions") or [q.id for q in spec.questions]
    views = []
    for qid in order:
        q = spec.question(qid)
        if q is None:
            continue
        by_id = {o.id: o.text for o in q.options}
        opt_order = attempt.layout.get("options", {}).get(qid) or list(by_id)
        views.append(QuestionView(q.id, q.kind.value, q.prompt, q.points,
                                  [(oid, by_id[oid]) for oid in opt_order if oid in by_id], saved.get(qid),
                                  candidate_parts(q)))
    return views
