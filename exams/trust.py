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
SEND           an unrevoked certificate whose attempt still meets RELEASE's conditions.
REOPEN         an upheld appeal on a released attempt: the release is withdrawn, points are editable
               again; the next RELEASE revokes a certificate whose result changed ("reissued after
               appeal") and issues a new one.
PURGE          recordings, snapshots and chat of an ended attempt, when no appeal is open and either
               (released, the required review done, and the appeal window closed or the certificate sent,
               but after an upheld appeal only the new result's window) or (never released, no appeal,
               the backstop passed). The SQL form is :func:`evidence_releasable` (``exams.evidence``).
=============  ==========================================================================================
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any

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
from storage.models import Blob

#: Timeline entries that are a proctor's note on the session (each asks for a review under the "flagged" policy).
PROCTOR_NOTES = ("warning", "paused", "proctor_note")
REISSUED_AFTER_APPEAL = "reissued after appeal"
REISSUED_AFTER_CORRECTION = "reissued after a correction of name or birth date"


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


def evidence_releasable(now: dt.datetime, window_closed: ColumnElement[bool],
                        backstop: dt.timedelta) -> ColumnElement[bool]:
    """SQL on ``Attempt``: its recordings, snapshots and chat may be purged now (see PURGE above).

    ``window_closed`` says the appeal window after the (latest) release has closed, per institution.
    """
    open_appeal = exists().where(Appeal.attempt_id == Attempt.id, Appeal.status == AppealStatus.OPEN)
    upheld = exists().where(Appeal.attempt_id == Attempt.id, Appeal.status == AppealStatus.UPHELD)
    any_appeal = exists().where(Appeal.attempt_id == Attempt.id)
    sent = exists().where(Certificate.attempt_id == Attempt.id, Certificate.revoked_at.is_(None),
                          Certificate.sent_at.is_not(None), Certificate.sent_at <= now)
    released = and_(Attempt.result_released_at.is_not(None), Attempt.result_released_at <= now,
                    review_satisfied_sql(), or_(window_closed, and_(sent, ~upheld)))
    never_released = and_(Attempt.result_released_at.is_(None), ~any_appeal, Attempt.ended_at <= now - backstop)
    return and_(Attempt.status != AttemptStatus.IN_PROGRESS, ~open_appeal, or_(released, never_released))
