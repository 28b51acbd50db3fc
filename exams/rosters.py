"""Rosters and schedules: who may sit an exam, in which session, with which proctor.

Only enrolled candidates see an exam and start it (``exams.catalog``); an exam without a roster is seen by
no candidate. Each enrolment may name a session (a time slot, stored in UTC) and the proctor watching the
candidate, picked among the session's proctors, each taking up to the session's capacity (default 15).
A candidate starts as many attempts as the enrolment allows (one, until the exam office allows another).

The Python API (the CLI, the demo seed and tests call it as the views do):
``create_session(exam, starts_at, ends_at, capacity_per_proctor=15)``, ``add_session_proctor(session, proctor)``,
``enrol(exam, candidate, session=None)``, ``allow_another_attempt(enrolment)``, ``import_roster(exam, text)``;
each commits and queues the mails that follow (enrolment to the candidate, assignment to the proctor).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import func, select

from accounts import notices
from accounts.models import Role, User
from accounts.services import account_by_email, normalise_email
from exams.models import (
    DEFAULT_CAPACITY_PER_PROCTOR,
    Attempt,
    AttemptStatus,
    Certificate,
    Enrolment,
    Exam,
    ExamSession,
)
from kernel.clock import from_local, utcnow
from kernel.db import db
from kernel.errors import Conflict, DomainError, NotFound, ValidationFailed

MAX_ROSTER_LINES = 5000
MAX_CAPACITY = 200


class SessionFull(Conflict):
    """Every proctor of the session watches as many candidates as the capacity allows."""

    code = "session_full"


@dataclasses.dataclass(frozen=True)
class RosterProblem:
    """One problem of a roster file, with its line (1 is the header)."""

    line: int
    message: str


class RosterImportError(ValidationFailed):
    """The roster file has problems; nothing was enrolled."""

    code = "roster_invalid"

    def __init__(self, problems: list[RosterProblem]) -> None:
        super().__init__(_("The roster has %(n)d problem(s); nobody was enrolled.", n=len(problems)),
                         fields={f"line {p.line}": p.message for p in problems})
        self.problems = problems


# ---------------------------------------------------------------- sessions and proctors


def create_session(exam: Exam, starts_at: dt.datetime, ends_at: dt.datetime,
                   capacity_per_proctor: int = DEFAULT_CAPACITY_PER_PROCTOR) -> ExamSession:
    """A new time slot of ``exam`` (UTC); it must lie in the exam's window."""
    session = _find_or_check_session(exam, starts_at, ends_at, capacity_per_proctor)
    db.session.commit()
    return session


def _find_or_check_session(exam: Exam, starts_at: dt.datetime, ends_at: dt.datetime,
                           capacity_per_proctor: int = DEFAULT_CAPACITY_PER_PROCTOR) -> ExamSession:
    if ends_at <= starts_at:
        raise ValidationFailed(_("The session must end after it starts."), fields={"ends_at": "before start"})
    if starts_at < exam.opens_at or ends_at > exam.closes_at:
        raise ValidationFailed(_("The session must lie within the exam's window."), fields={"starts_at": "outside"})
    if not 1 <= capacity_per_proctor <= MAX_CAPACITY:
        raise ValidationFailed(_("Candidates per proctor: a number from 1 to %(n)d.", n=MAX_CAPACITY),
                               fields={"capacity_per_proctor": "out of range"})
    found = db.session.scalar(select(ExamSession).where(ExamSession.exam_id == exam.id,
                                                        ExamSession.starts_at == starts_at,
                                                        ExamSession.ends_at == ends_at))
    if found is not None:
        return found
    session = ExamSession(exam_id=exam.id, starts_at=starts_at, ends_at=ends_at,
                          capacity_per_proctor=capacity_per_proctor, created_at=utcnow())
    db.session.add(session)
    db.session.flush()
    return session


def sessions_of(exam: Exam) -> Sequence[ExamSession]:
    """The exam's sessions, earliest first."""
    return db.session.scalars(select(ExamSession).where(ExamSession.exam_id == exam.id)
                              .order_by(ExamSession.starts_at, ExamSession.id)).all()


def get_session(exam: Exam, session_id: int) -> ExamSession:
    """A session of ``exam`` (already access-checked); another exam's is NotFound."""
    session = db.session.get(ExamSession, session_id)
    if session is None or session.exam_id != exam.id:
        raise NotFound()
    return session


def load(session: ExamSession) -> dict[int | None, int]:
    """How many candidates each proctor of the session watches (None: candidates without a proctor yet)."""
    rows = db.session.execute(select(Enrolment.proctor_id, func.count()).where(Enrolment.session_id == session.id)
                              .group_by(Enrolment.proctor_id)).all()
    counts: dict[int | None, int] = {p.id: 0 for p in session.proctors}
    counts.update({proctor_id: int(n) for proctor_id, n in rows})
    return counts


def add_session_proctor(session: ExamSession, proctor: User) -> int:
    """Assign a proctor of the institution to the session (and so to the exam); candidates of the session
    without a proctor go to them up to the capacity. Returns how many were given to them; mails the proctor."""
    try:
        _add_proctor(session, proctor)
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()
    return _distribute(session)


def _add_proctor(session: ExamSession, proctor: User) -> None:
    exam = session.exam
    if proctor.role != Role.PROCTOR or proctor.institution_id != exam.institution_id:
        raise NotFound()
    if proctor not in session.proctors:
        session.proctors.append(proctor)
        notices.queue(proctor, "proctor_assigned", f"proctor_assigned:{session.id}:{proctor.id}",
                      session_id=session.id)
    if proctor not in exam.proctors:
        exam.proctors.append(proctor)


def _distribute(session: ExamSession) -> int:
    waiting = db.session.scalars(select(Enrolment).where(Enrolment.session_id == session.id,
                                                         Enrolment.proctor_id.is_(None)).order_by(Enrolment.id)).all()
    given = 0
    for enrolment in waiting:
        proctor = _proctor_with_room(session)
        if proctor is None:
            break
        enrolment.proctor_id = proctor.id
        db.session.flush()
        given += 1
    db.session.commit()
    return given


def _proctor_with_room(session: ExamSession) -> User | None:
    counts = load(session)
    free = [p for p in session.proctors if counts.get(p.id, 0) < session.capacity_per_proctor]
    return min(free, key=lambda p: (counts.get(p.id, 0), p.id)) if free else None


# ---------------------------------------------------------------- enrolment


def enrolment_of(candidate: User, exam: Exam) -> Enrolment | None:
    """The candidate's enrolment in ``exam``, if any."""
    return db.session.scalar(select(Enrolment).where(Enrolment.exam_id == exam.id,
                                                     Enrolment.user_id == candidate.id))


def roster(exam: Exam) -> Sequence[Enrolment]:
    """Everyone enrolled in ``exam``, by session and name."""
    return db.session.scalars(select(Enrolment).join(User, User.id == Enrolment.user_id)
                              .where(Enrolment.exam_id == exam.id)
                              .order_by(Enrolment.session_id, User.display_name, Enrolment.id)).all()


def enrol(exam: Exam, candidate: User, session: ExamSession | None = None) -> Enrolment:
    """Put a candidate of the exam's institution on its roster, in ``session`` (or move them there); the
    candidate is mailed the session's time and the system-check link. A full session is refused."""
    try:
        enrolment = _enrol(exam, candidate, session)
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()
    return enrolment


def _enrol(exam: Exam, candidate: User, session: ExamSession | None,
           proctor: User | None = None) -> Enrolment:
    if candidate.role != Role.CANDIDATE or candidate.institution_id != exam.institution_id \
            or candidate.erased_at is not None:
        raise NotFound(_("No candidate of this institution has this address."))
    if session is not None and session.exam_id != exam.id:
        raise NotFound()
    enrolment = enrolment_of(candidate, exam)
    if enrolment is None:
        enrolment = Enrolment(exam_id=exam.id, user_id=candidate.id, attempts_allowed=1, enrolled_at=utcnow())
        db.session.add(enrolment)
    elif enrolment.session_id == (session.id if session else None) and (proctor is None
                                                                         or enrolment.proctor_id == proctor.id):
        return enrolment  # already so: nothing changes, no second mail
    enrolment.session_id = session.id if session else None
    enrolment.proctor_id = None
    db.session.flush()
    if session is not None:
        if proctor is not None:
            _add_proctor(session, proctor)
            if load(session).get(proctor.id, 0) >= session.capacity_per_proctor:
                raise SessionFull(_("%(name)s already watches %(n)d candidates in this session (the capacity).",
                                    name=proctor.display_name, n=session.capacity_per_proctor))
            enrolment.proctor_id = proctor.id
        elif session.proctors:
            chosen = _proctor_with_room(session)
            if chosen is None:
                raise SessionFull(_("This session is full: each of its %(p)d proctor(s) watches %(n)d candidates. "
                                    "Assign another proctor or choose another session.",
                                    p=len(session.proctors), n=session.capacity_per_proctor))
            enrolment.proctor_id = chosen.id
        db.session.flush()
    notices.queue(candidate, "enrolment", f"enrolment:{enrolment.id}:{enrolment.session_id}",
                  enrolment_id=enrolment.id)
    return enrolment


def get_enrolment(exam: Exam, enrolment_id: int) -> Enrolment:
    """An enrolment of ``exam`` (already access-checked); another exam's is NotFound."""
    enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None or enrolment.exam_id != exam.id:
        raise NotFound()
    return enrolment


def attempts_taken(candidate: User, exam: Exam) -> int:
    """How many attempts the candidate has started at ``exam``."""
    return int(db.session.scalar(select(func.count()).select_from(Attempt).where(
        Attempt.exam_id == exam.id, Attempt.user_id == candidate.id)) or 0)


def allow_another_attempt(enrolment: Enrolment) -> Enrolment:
    """Let the candidate start one more attempt than they have taken (the exam office decides)."""
    enrolment.attempts_allowed = attempts_taken(enrolment.user, enrolment.exam) + 1
    db.session.commit()
    return enrolment


# ---------------------------------------------------------------- CSV import

HEADERS = {"email": "email", "e-mail": "email", "date": "date", "datum": "date", "start": "start",
           "beginn": "start", "end": "end", "ende": "end", "proctor": "proctor", "aufsicht": "proctor"}


def _parse_date(text: str) -> dt.date | None:
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _parse_time(text: str) -> dt.time | None:
    try:
        return dt.datetime.strptime(text, "%H:%M").time()
    except ValueError:
        return None


def import_roster(exam: Exam, text: str) -> list[Enrolment]:
    """Enrol the candidates of a CSV file: a header ``email,date,start,end,proctor`` (German names too; comma
    or semicolon), then one candidate a line; date (2026-12-24 or 24.12.2026), start and end (14:00) in the
    institution's time zone and proctor (an email) may be empty. All or nothing: on any problem nobody is
    enrolled and every problem is raised with its line."""
    text = text.lstrip("\ufeff")
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    problems: list[RosterProblem] = []
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise RosterImportError([RosterProblem(1, _("The file is empty; the first line names the columns."))]) from None
    columns = [HEADERS.get(h.strip().lower()) for h in header]
    if "email" not in columns:
        raise RosterImportError([RosterProblem(1, _("The first line must name the columns, with at least "
                                                     "\"email\" (then date, start, end, proctor)."))])
    tz = exam.institution.timezone
    seen: dict[str, int] = {}
    enrolments: list[Enrolment] = []
    rows = 0
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            rows += 1
            if rows > MAX_ROSTER_LINES:
                problems.append(RosterProblem(line, _("At most %(n)d candidates per file.", n=MAX_ROSTER_LINES)))
                break
            row = {c: v.strip() for c, v in zip(columns, values, strict=False) if c}
            problem = _import_line(exam, tz, row, line, seen, enrolments)
            if problem:
                problems.append(RosterProblem(line, problem))
    except csv.Error as err:
        problems.append(RosterProblem(reader.line_num, _("The line cannot be read as CSV (%(err)s).", err=str(err))))
    if not problems and not enrolments:
        problems.append(RosterProblem(1, _("The file names no candidate.")))
    if problems:
        db.session.rollback()
        raise RosterImportError(problems)
    db.session.commit()
    return enrolments


def _import_line(exam: Exam, tz: str, row: dict[str, str], line: int, seen: dict[str, int],
                 enrolments: list[Enrolment]) -> str | None:
    email = normalise_email(row.get("email", ""))
    if not email:
        return _("The email address is missing.")
    if email in seen:
        return _("%(email)s is already on line %(line)d.", email=email, line=seen[email])
    seen[email] = line
    candidate = account_by_email(email, exam.institution_id)
    if candidate is None or candidate.role != Role.CANDIDATE or candidate.institution_id != exam.institution_id:
        return _("No candidate of this institution is registered as %(email)s.", email=email)
    session = None
    date_text, start_text, end_text = row.get("date", ""), row.get("start", ""), row.get("end", "")
    if date_text or start_text or end_text:
        day = _parse_date(date_text)
        if day is None:
            return _("The date \"%(v)s\" is not a date like 2026-12-24 or 24.12.2026.", v=date_text)
        start, end = _parse_time(start_text), _parse_time(end_text)
        if start is None or end is None:
            return _("Start and end must be times like 09:30 (given: \"%(a)s\", \"%(b)s\").", a=start_text,
                     b=end_text)
        try:
            session = _find_or_check_session(exam, from_local(dt.datetime.combine(day, start), tz),
                                             from_local(dt.datetime.combine(day, end), tz))
        except ValidationFailed as err:
            return err.message
    proctor = None
    if row.get("proctor"):
        if session is None:
            return _("A proctor needs a session: give date, start and end too.")
        proctor = account_by_email(row["proctor"], exam.institution_id)
        if proctor is None or proctor.role != Role.PROCTOR or proctor.institution_id != exam.institution_id:
            return _("No proctor of this institution has the address %(email)s.", email=row["proctor"])
    try:
        enrolments.append(_enrol(exam, candidate, session, proctor))
    except (Conflict, NotFound) as err:
        return err.message
    return None


# ---------------------------------------------------------------- the candidate's own view


@dataclasses.dataclass(frozen=True)
class CandidateExam:
    """One exam on a candidate's roster as their home page shows it."""

    exam: Exam
    enrolment: Enrolment
    attempt: Attempt | None  # the latest
    certificate: Certificate | None  # the candidate gets it once the appeal window has ended
    appeal_closes_at: dt.datetime | None  # while the appeal window is open: when it closes (None: not open)
    can_start: bool  # a new attempt may be started (or the one in progress resumed)


def exams_of_candidate(candidate: User, now: dt.datetime) -> list[CandidateExam]:
    """The candidate's exams with their latest attempt, result, certificate and appeal deadline."""
    from exams.trust import appeal_window

    rows = db.session.execute(select(Enrolment, Exam).join(Exam, Exam.id == Enrolment.exam_id)
                              .where(Enrolment.user_id == candidate.id)
                              .order_by(Exam.opens_at.desc(), Exam.id)).all()
    found = []
    for enrolment, exam in rows:
        attempt = db.session.scalar(select(Attempt).where(Attempt.exam_id == exam.id, Attempt.user_id == candidate.id)
                                    .order_by(Attempt.started_at.desc(), Attempt.id.desc()).limit(1))
        certificate = closes = None
        if attempt is not None and attempt.result_released_at is not None:
            certificate = db.session.scalar(select(Certificate).where(Certificate.attempt_id == attempt.id)
                                            .order_by(Certificate.revoked_at.is_(None).desc(), Certificate.id.desc())
                                            .limit(1))
            window = appeal_window(attempt)
            closes = window.closes_at if window is not None and window.is_open(now) else None
        in_progress = attempt is not None and attempt.status == AttemptStatus.IN_PROGRESS
        left = attempts_taken(candidate, exam) < enrolment.attempts_allowed
        found.append(CandidateExam(exam, enrolment, attempt, certificate, closes,
                                   in_progress or (left and now < exam.closes_at)))
    return found


def exam_of_candidate(candidate: User, exam: Exam, now: dt.datetime) -> CandidateExam | None:
    """One exam of the candidate's roster as :func:`exams_of_candidate` sees it."""
    return next((c for c in exams_of_candidate(candidate, now) if c.exam.id == exam.id), None)
