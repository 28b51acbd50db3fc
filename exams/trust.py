"""The chain of trust: the one place that decides what may happen to a result, its certificate and its evidence.

An employer who checks a certificate trusts three things: the holder was identified, sat the exam under
supervision, and nothing found in the recording was ignored. Views, jobs and the CLI never decide this
themselves; they ask here, so no path (bulk release, CLI, job) can skip a rule.

The states each rule reads:

=============  ==========================================================================================
attempt        in_progress | submitted (also at the deadline) | terminated
identity       not_required (the exam has no identity check) | verified (automatically, or by a person:
               a reviewer or the proctor's live comparison) | pending | in_review | rejected | missing
review         not_required (no recording, or the institution's policy does not ask) | required | done
appeal         none | open | upheld | rejected
certificate    none | issued | sent | revoked
=============  ==========================================================================================

What each action may do (every other combination is held, with the reason):

=============  ==========================================================================================
RELEASE        attempt submitted, grading done, identity not_required or verified, review not_required or
               done. Sets the release time; a pass then gets its certificate (ISSUE).
ISSUE          RELEASE's conditions, a released pass, no unrevoked certificate. Snapshots holder, identity
               and review into the certificate.
SEND           an unrevoked certificate whose attempt still meets RELEASE's conditions, no appeal open, and the
               appeal window ended (it closed, or the candidate asked for the certificate sooner, which ends
               it: the certificate is theirs, the appeal is not). By default the job sends it when the window
               closes; nothing mails it at release.
REOPEN         an upheld appeal on a released attempt: the release is withdrawn, points are editable
               again; the next RELEASE revokes a certificate whose result changed ("reissued after
               appeal") and issues a new one.
PURGE          recordings, snapshots and chat of an ended attempt, when no appeal is open, the required review
               is done, and either (released and the appeal window of the latest release ended) or (never
               released, no appeal, the backstop passed). The SQL form is :func:`evidence_releasable`
               (``exams.evidence``); a session waiting for its review keeps its evidence past the backstop.
=============  ==========================================================================================

The appeal window is defined once, by :func:`appeal_window`: it opens at the (latest) release and closes at
midnight, in the institution's time zone, after the institution's n-th day (7 by default; release day is day
0), or earlier at the moment the candidate asks for the certificate (or, for results from before this rule, it
was sent). The appeal form, the appeal service, the release mail, the candidate's pages, the certificate job and
the purge all read it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Sequence
from typing import Any, NamedTuple

from flask_babel import lazy_gettext as _
from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import aliased

from exams import lockdown
from exams.models import Appeal, AppealStatus, Attempt, AttemptEvent, AttemptStatus, Certificate, Exam
from idcheck.models import IdCheck, IdCheckStatus
from kernel.db import db
from kernel.errors import Conflict
from privacy.models import InstitutionSettings
from proctoring.models import Flag
from storage.models import Blob, BlobState

#: Timeline entries that are a proctor's note on the session (each asks for a review under the "flagged" policy;
#: a termination is the strongest one: a person looks at the recording before it may go).
PROCTOR_NOTES = ("warning", "paused", "proctor_note", "terminated")
REISSUED_AFTER_APPEAL = "reissued after appeal"
REISSUED_AFTER_CORRECTION = "reissued after a correction of name or birth date"
#: The timeline entry of a candidate who asked for the certificate before the window closed (it ends the window).
CERTIFICATE_REQUESTED = "certificate_requested"


class Action(enum.StrEnum):
    """What a person or a job may try to do with an attempt's result."""

    RELEASE = "release"
    ISSUE = "issue"
    SEND = "send"
    REOPEN = "reopen"


class IdentityState(enum.StrEnum):
    """Where the identity of an attempt's candidate stands, for the release gate."""

    NOT_REQUIRED = "not_required"
    VERIFIED = "verified"
    PENDING = "pending"
    IN_REVIEW = "in_review"
    REJECTED = "rejected"
    MISSING = "missing"


@dataclasses.dataclass(frozen=True)
class Identity:
    """How (and whether) the candidate's identity was decided for this exam."""

    state: IdentityState
    method: str | None = None  # "automatic" or "person" once verified
    verified_at: dt.datetime | None = None
    check_id: int | None = None


@dataclasses.dataclass(frozen=True)
class Hold:
    """One reason a result is held; ``task`` names where the work waits ("review", "identity", "grading").

    ``message`` is translated when shown (jobs and the CLI have no request, and read ``code``).
    """

    code: str
    message: Any
    task: str | None = None
    task_id: int | None = None


class ResultHeld(Conflict):
    """The result may not go (yet); ``holds`` say why."""

    code = "result_held"

    def __init__(self, holds: list[Hold]) -> None:
        super().__init__("result held: " + ", ".join(h.code for h in holds))
        self.holds = holds

    @property
    def message(self) -> str:
        """The reasons in the reader's language."""
        return " ".join(str(h.message) for h in self.holds)


# --- identity --------------------------------------------------------------------------------------------------


def identity_of(attempt: Attempt) -> Identity:
    """The identity decision for the attempt's candidate in its exam (only ``VERIFIED`` counts as verified)."""
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == attempt.user_id,
                                                    IdCheck.exam_id == attempt.exam_id))
    if check is not None and check.status == IdCheckStatus.VERIFIED:
        method = "automatic" if check.decided_by_id is None else "person"
        return Identity(IdentityState.VERIFIED, method, check.decided_at or check.updated_at, check.id)
    if not attempt.exam.identity_check_required:
        return Identity(IdentityState.NOT_REQUIRED)
    if check is None:
        return Identity(IdentityState.MISSING)
    if check.status == IdCheckStatus.REVIEW:
        return Identity(IdentityState.IN_REVIEW, check_id=check.id)
    if check.status == IdCheckStatus.REJECTED:
        return Identity(IdentityState.REJECTED, check_id=check.id)
    return Identity(IdentityState.PENDING, check_id=check.id)  # started, processing, retake, manual (unconfirmed)


# --- review (SQL, correlated to Attempt, so the release gate and the purge read the same rule) -----------------


def _recorded() -> ColumnElement[bool]:
    part = aliased(Blob)  # the purge query's own Blob must not be correlated in here
    return exists().where(part.attempt_id == Attempt.id, part.category == "recording")


def _policy_all() -> ColumnElement[bool]:
    return exists().where(Exam.id == Attempt.exam_id, InstitutionSettings.institution_id == Exam.institution_id,
                          InstitutionSettings.review_policy == "all").correlate(Attempt)


def _identity_doubt() -> ColumnElement[bool]:
    return exists().where(
        IdCheck.user_id == Attempt.user_id, IdCheck.exam_id == Attempt.exam_id,
        or_(IdCheck.status.in_([IdCheckStatus.REVIEW, IdCheckStatus.REJECTED]),
            and_(IdCheck.auto_decision.is_not(None), IdCheck.auto_decision != "match"),
            IdCheck.liveness_passed.is_(False)))


def review_required_sql() -> ColumnElement[bool]:
    """SQL on ``Attempt``: the session was recorded and the institution's policy asks a person to review it."""
    flagged = exists().where(Flag.attempt_id == Attempt.id)
    noted = exists().where(AttemptEvent.attempt_id == Attempt.id, AttemptEvent.kind.in_(PROCTOR_NOTES))
    return and_(_recorded(), or_(_policy_all(), flagged, noted, _identity_doubt()))


def review_satisfied_sql() -> ColumnElement[bool]:
    """SQL on ``Attempt``: no review is required, or it is done."""
    return or_(Attempt.review_outcome.is_not(None), ~review_required_sql())


def review_required(attempt: Attempt) -> bool:
    """True when a person must review this session before its result (or its evidence) may go."""
    return bool(db.session.scalar(select(review_required_sql()).select_from(Attempt).where(Attempt.id == attempt.id)))


def recorded(attempt: Attempt) -> bool:
    """True when the session left a recording."""
    return bool(db.session.scalar(select(_recorded()).select_from(Attempt).where(Attempt.id == attempt.id)))


def review_statement(attempt: Attempt) -> str:
    """What the certificate says about the review: "clean", "findings" or "not_reviewed"."""
    return attempt.review_outcome if attempt.review_outcome in ("clean", "findings") else "not_reviewed"


def taken_in_seb(attempt: Attempt) -> bool:
    """Whether the certificate says "taken in Safe Exam Browser with the exam's configuration": the exam required
    SEB and every request of the attempt, from the start to the submission, carried a valid key. Otherwise the
    certificate says nothing about SEB."""
    return lockdown.taken_in_seb(attempt)


# --- appeals and certificates ----------------------------------------------------------------------------------


def has_appeal(attempt: Attempt, status: AppealStatus | None = None) -> bool:
    """True when the attempt has an appeal (of ``status``, if given)."""
    q = select(Appeal.id).where(Appeal.attempt_id == attempt.id)
    if status is not None:
        q = q.where(Appeal.status == status)
    return db.session.scalar(q.limit(1)) is not None


def live_certificate(attempt: Attempt) -> Certificate | None:
    """The attempt's unrevoked certificate, if any."""
    return db.session.scalar(select(Certificate).where(Certificate.attempt_id == attempt.id,
                                                       Certificate.revoked_at.is_(None)))


# --- the appeal window (the one definition: see the module's docstring) ---------------------------------------


@dataclasses.dataclass(frozen=True)
class AppealWindow:
    """When appeals against a released result are taken: from ``opens_at`` until before ``closes_at`` (naive UTC).

    ``deadline`` is where the calendar closes it; ``closes_at`` is earlier when the candidate asked for the
    certificate sooner (``ended_early``).
    """

    opens_at: dt.datetime
    closes_at: dt.datetime
    deadline: dt.datetime

    def is_open(self, now: dt.datetime) -> bool:
        """True when an appeal filed at ``now`` is on time."""
        return self.opens_at <= now < self.closes_at

    @property
    def ended_early(self) -> bool:
        """True when the candidate ended the window by asking for the certificate before the deadline."""
        return self.closes_at < self.deadline


class _Released(NamedTuple):
    id: int
    exam_id: int
    released_at: dt.datetime


def appeal_window(attempt: Attempt) -> AppealWindow | None:
    """The appeal window of the attempt's (latest) release; None while the result is not released."""
    if attempt.result_released_at is None:
        return None
    return _windows([_Released(attempt.id, attempt.exam_id, attempt.result_released_at)])[attempt.id]


def appeal_windows(attempts: Sequence[Attempt]) -> dict[int, AppealWindow]:
    """:func:`appeal_window` of many attempts at once, by attempt id (unreleased ones are left out)."""
    return _windows([_Released(a.id, a.exam_id, a.result_released_at) for a in attempts
                     if a.result_released_at is not None])


def _windows(rows: Sequence[_Released]) -> dict[int, AppealWindow]:
    from accounts.models import Institution
    from exams.rules import appeal_deadline
    from kernel.clock import zone
    from privacy.settings import appeal_window_days

    if not rows:
        return {}
    exam_ids = sorted({r.exam_id for r in rows})
    places = {exam_id: (institution_id, tz) for exam_id, institution_id, tz in db.session.execute(
        select(Exam.id, Exam.institution_id, Institution.timezone)
        .join(Institution, Institution.id == Exam.institution_id).where(Exam.id.in_(exam_ids)))}
    days: dict[int | None, int] = {}
    ended: dict[int, list[dt.datetime]] = {}  # the candidate asked for the certificate, or it was sent
    ids = [r.id for r in rows]
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for attempt_id, at in db.session.execute(select(AttemptEvent.attempt_id, AttemptEvent.at).where(
                AttemptEvent.attempt_id.in_(chunk), AttemptEvent.kind == CERTIFICATE_REQUESTED)):
            ended.setdefault(attempt_id, []).append(at)
        for attempt_id, sent in db.session.execute(select(Certificate.attempt_id, Certificate.sent_at).where(
                Certificate.attempt_id.in_(chunk), Certificate.sent_at.is_not(None))):
            if sent is not None:
                ended.setdefault(attempt_id, []).append(sent)
    out = {}
    for row in rows:
        institution_id, tz = places.get(row.exam_id, (None, None))
        if institution_id not in days:
            days[institution_id] = appeal_window_days(institution_id)
        deadline = appeal_deadline(row.released_at, days[institution_id], zone(tz))
        # Only what happened after this release ends it: after an upheld appeal the new result has its own window.
        early = [at for at in ended.get(row.id, []) if row.released_at <= at < deadline]
        out[row.id] = AppealWindow(row.released_at, min(early, default=deadline), deadline)
    return out


def _windows_ended(now: dt.datetime) -> list[int]:
    """Ids of released, ended attempts with evidence left whose appeal window has ended by ``now``."""
    from privacy.settings import appeal_window_days, custom_appeal_windows

    def calendar(days: int) -> ColumnElement[bool]:  # necessary, not sufficient: the deadline is later still
        return Attempt.result_released_at <= now - dt.timedelta(days=max(days - 1, 0))

    institution = select(Exam.institution_id).where(Exam.id == Attempt.exam_id).scalar_subquery()
    custom = custom_appeal_windows()
    customised = [i for ids in custom.values() for i in ids]
    default = calendar(appeal_window_days(None))
    by_calendar = or_(and_(institution.not_in(customised), default) if customised else default,
                      *[and_(institution.in_(ids), calendar(d)) for d, ids in custom.items()])
    waived = or_(exists().where(AttemptEvent.attempt_id == Attempt.id, AttemptEvent.kind == CERTIFICATE_REQUESTED),
                 exists().where(Certificate.attempt_id == Attempt.id, Certificate.sent_at.is_not(None)))
    part = aliased(Blob)
    evidence = exists().where(part.attempt_id == Attempt.id, part.state.not_in([BlobState.PURGED, BlobState.PURGING]))
    open_appeal = exists().where(Appeal.attempt_id == Attempt.id, Appeal.status == AppealStatus.OPEN)
    # At most 10,000 a run: the purge job runs every few minutes and takes the rest next time (never more).
    rows = db.session.execute(select(Attempt.id, Attempt.exam_id, Attempt.result_released_at).where(
        Attempt.result_released_at.is_not(None), Attempt.result_released_at <= now,
        Attempt.status != AttemptStatus.IN_PROGRESS, evidence, ~open_appeal, or_(by_calendar, waived))
        .order_by(Attempt.result_released_at).limit(10_000)).all()
    windows = _windows([_Released(aid, exam_id, at) for aid, exam_id, at in rows if at is not None])
    return [row.id for row in rows if windows[row.id].closes_at <= now]


# --- the gate --------------------------------------------------------------------------------------------------


def holds(attempt: Attempt, action: Action = Action.RELEASE) -> list[Hold]:
    """Every reason ``action`` may not be taken on ``attempt`` now (empty: it may)."""
    out: list[Hold] = []
    if action == Action.REOPEN:
        if attempt.result_released_at is None:
            out.append(Hold("not_released", _("The result has not been released.")))
        return out
    if attempt.status == AttemptStatus.TERMINATED:
        out.append(Hold("terminated", _("The attempt was terminated by the proctor; it gets no result and no "
                                        "certificate.")))
    elif attempt.status == AttemptStatus.IN_PROGRESS:
        out.append(Hold("running", _("The attempt is still running.")))
    if action == Action.RELEASE and attempt.pending_manual:
        out.append(Hold("grading", _("Some answers still need points."), "grading", attempt.id))
    identity = identity_of(attempt)
    if identity.state == IdentityState.IN_REVIEW:
        out.append(Hold("identity", _("The identity check waits for a decision."), "identity", identity.check_id))
    elif identity.state == IdentityState.REJECTED:
        out.append(Hold("identity_rejected", _("The identity check was rejected.")))
    elif identity.state == IdentityState.PENDING:
        out.append(Hold("identity_pending", _("The identity has not been confirmed (the proctor's comparison or the "
                                              "check is not finished).")))
    elif identity.state == IdentityState.MISSING:
        out.append(Hold("identity_missing", _("The candidate's identity was never checked.")))
    if attempt.status != AttemptStatus.IN_PROGRESS and attempt.review_outcome is None and review_required(attempt):
        out.append(Hold("review", _("The proctoring review of this session is not done."), "review", attempt.id))
    if action == Action.ISSUE and (attempt.result_released_at is None or not attempt.passed):
        out.append(Hold("not_a_released_pass", _("Certificates are issued only for released passes.")))
    if action == Action.SEND:
        out += _send_holds(attempt)
    return out


#: The hold that only waits for the appeal window to end (the candidate may end it by asking for the certificate).
WINDOW_OPEN = "appeal_window"


def _send_holds(attempt: Attempt) -> list[Hold]:
    from kernel.clock import format_local, utcnow

    window = appeal_window(attempt)
    if window is None:
        return [Hold("not_released", _("The result has not been released."))]
    out = []
    if has_appeal(attempt, AppealStatus.OPEN):
        out.append(Hold("appeal_open", _("An appeal against the result is open; the certificate waits for its "
                                         "decision.")))
    if window.is_open(utcnow()):
        out.append(Hold(WINDOW_OPEN, _("The appeal window is open until %(when)s; the certificate is sent when it "
                                       "closes, or sooner if the candidate asks for it (which ends the window).",
                                       when=format_local(window.closes_at, attempt.exam.institution.timezone))))
    return out


def require(attempt: Attempt, action: Action) -> None:
    """Raise :class:`ResultHeld` unless ``action`` may be taken on ``attempt`` now."""
    found = holds(attempt, action)
    if found:
        raise ResultHeld(found)


def certificate_outdated(cert: Certificate, attempt: Attempt, score: str) -> bool:
    """True when a re-released result differs from what ``cert`` states (a fail, or another score)."""
    if not attempt.passed:
        return True
    # A certificate issued before snapshots existed states no score we can compare: it is reissued.
    return cert.score_percent is None or cert.score_percent != score


def evidence_releasable(now: dt.datetime, backstop: dt.timedelta) -> ColumnElement[bool]:
    """SQL on ``Attempt``: its recordings, snapshots and chat may be purged now (see PURGE above).

    Released: once :func:`appeal_window` of the latest release has ended. Never released: ``backstop`` after the
    attempt ended. Either way only once the review the institution requires is done.
    """
    open_appeal = exists().where(Appeal.attempt_id == Attempt.id, Appeal.status == AppealStatus.OPEN)
    any_appeal = exists().where(Appeal.attempt_id == Attempt.id)
    released = and_(Attempt.result_released_at.is_not(None), Attempt.result_released_at <= now,
                    Attempt.id.in_(_windows_ended(now)))
    never_released = and_(Attempt.result_released_at.is_(None), ~any_appeal, Attempt.ended_at <= now - backstop)
    return and_(Attempt.status != AttemptStatus.IN_PROGRESS, ~open_appeal, review_satisfied_sql(),
                or_(released, never_released))
