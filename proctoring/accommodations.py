"""Accommodations (Nachteilsausgleich) per candidate and exam, set by the exam office before the exam.

Two kinds, one form: extra time (whole minutes, or a percentage of the duration; the exam domain adds
it to the deadline when the attempt starts, ``exams.attempts.extra_minutes_for``) and flag types that
are never raised for this candidate (``proctoring.flags.silenced_kinds``), each with its reason, e.g.
"reads aloud". Once the candidate's attempt has started the accommodation is fixed: a change then
would not apply and would only mislead the proctor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from flask_babel import gettext as _
from sqlalchemy import delete, select

from accounts.models import Role, User
from exams.models import Attempt, Exam, ExtraTime, extra_minutes
from kernel.db import db
from kernel.errors import Conflict, NotFound, ValidationFailed
from proctoring.flag_labels import kind_label
from proctoring.models import Accommodation, FlagKind

MAX_MINUTES = 240
MAX_PERCENT = 200
UNITS = ("minutes", "percent")


@dataclasses.dataclass(frozen=True)
class CandidateAccommodation:
    """What one candidate is granted in one exam."""

    user: User
    extra_minutes: int
    extra_percent: int
    reason: str
    silenced: tuple[FlagKind, ...]
    started: bool

    def extra_for(self, exam: Exam) -> int:
        """The extra minutes this grants in ``exam`` (a percentage rounded up)."""
        return extra_minutes(self.extra_minutes, self.extra_percent, exam.duration_minutes)


def _supervised_exam(staff: User, exam: Exam) -> None:
    if staff.role != Role.STAFF or staff.institution_id != exam.institution_id:
        raise NotFound()


def _candidate(exam: Exam, email: str) -> User:
    email = (email or "").strip().lower()
    cand = db.session.scalar(select(User).where(User.email == email, User.institution_id == exam.institution_id,
                                                User.role == Role.CANDIDATE)) if email else None
    if cand is None:
        raise ValidationFailed(_("No candidate of this institution has this email address."),
                               fields={"email": "unknown candidate"})
    return cand


def _started(exam: Exam, user_id: int) -> bool:
    return db.session.scalar(select(Attempt.id).where(Attempt.exam_id == exam.id, Attempt.user_id == user_id)) \
        is not None


def accommodation_of(exam: Exam, user: User) -> CandidateAccommodation | None:
    """The candidate's accommodation in this exam, or None."""
    extra = db.session.scalar(select(ExtraTime).where(ExtraTime.exam_id == exam.id, ExtraTime.user_id == user.id))
    rows = db.session.scalars(select(Accommodation).where(Accommodation.exam_id == exam.id,
                                                          Accommodation.user_id == user.id)
                              .order_by(Accommodation.flag_kind)).all()
    if extra is None and not rows:
        return None
    reason = extra.reason if extra is not None else rows[0].reason
    return CandidateAccommodation(user, extra.extra_minutes if extra else 0, extra.extra_percent if extra else 0,
                                  reason, tuple(r.flag_kind for r in rows), _started(exam, user.id))


def accommodations_in(staff: User, exam: Exam) -> list[CandidateAccommodation]:
    """Every accommodation of the exam, by candidate name (for the exam office's page)."""
    _supervised_exam(staff, exam)
    ids = set(db.session.scalars(select(ExtraTime.user_id).where(ExtraTime.exam_id == exam.id)))
    ids |= set(db.session.scalars(select(Accommodation.user_id).where(Accommodation.exam_id == exam.id)))
    users = db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.display_name)).all() if ids else []
    return [a for a in (accommodation_of(exam, u) for u in users) if a is not None]


def set_accommodation(staff: User, exam: Exam, email: str, amount: str, unit: str, kinds: Iterable[str],
                      reason: str) -> CandidateAccommodation:
    """Grant (or replace) one candidate's accommodation in ``exam``; refused once the attempt has started."""
    _supervised_exam(staff, exam)
    cand = _candidate(exam, email)
    errors: dict[str, str] = {}
    try:
        value = int((amount or "0").strip() or "0")
    except ValueError:
        value = -1
    limit = MAX_PERCENT if unit == "percent" else MAX_MINUTES
    if unit not in UNITS:
        errors["unit"] = "minutes or percent"
    elif not 0 <= value <= limit:
        errors["amount"] = f"0 to {limit}"
    try:
        silenced = sorted({FlagKind(k) for k in kinds})
    except ValueError:
        errors["kinds"] = "unknown flag type"
        silenced = []
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = "required"
    if errors:
        messages = {"amount": _("Extra time: a whole number from 0 to %(n)d.", n=limit),
                    "unit": _("Choose minutes or percent."), "kinds": _("Unknown flag type."),
                    "reason": _("Please give the reason of the accommodation.")}
        raise ValidationFailed(" ".join(messages[f] for f in errors), fields=errors)
    if value == 0 and not silenced:
        raise ValidationFailed(_("Grant extra time or choose a flag type to silence."), fields={"amount": "empty"})
    if _started(exam, cand.id):
        raise Conflict(_("%(name)s has already started this exam: the accommodation can no longer change.",
                         name=cand.display_name))
    _clear(exam, cand.id)
    if value:
        db.session.add(ExtraTime(exam_id=exam.id, user_id=cand.id, reason=reason[:200], created_by_id=staff.id,
                                 extra_minutes=value if unit == "minutes" else 0,
                                 extra_percent=value if unit == "percent" else 0))
    for kind in silenced:
        db.session.add(Accommodation(user_id=cand.id, exam_id=exam.id, flag_kind=kind, reason=reason[:200],
                                     created_by_id=staff.id))
    db.session.commit()
    acc = accommodation_of(exam, cand)
    assert acc is not None  # noqa: S101 - just written
    return acc


def remove_accommodation(staff: User, exam: Exam, user_id: int) -> None:
    """Withdraw a candidate's accommodation before the attempt starts."""
    _supervised_exam(staff, exam)
    cand = db.session.get(User, user_id)
    if cand is None or cand.institution_id != exam.institution_id:
        raise NotFound()
    if _started(exam, cand.id):
        raise Conflict(_("%(name)s has already started this exam: the accommodation can no longer change.",
                         name=cand.display_name))
    _clear(exam, cand.id)
    db.session.commit()


def _clear(exam: Exam, user_id: int) -> None:
    db.session.execute(delete(ExtraTime).where(ExtraTime.exam_id == exam.id, ExtraTime.user_id == user_id))
    db.session.execute(delete(Accommodation).where(Accommodation.exam_id == exam.id,
                                                   Accommodation.user_id == user_id))


def for_tile(attempts: Sequence[Attempt]) -> dict[int, dict[str, object]]:
    """What the proctor's tile says about each attempt's accommodation (attempt id -> words), in two queries."""
    if not attempts:
        return {}
    exams, users = {a.exam_id for a in attempts}, {a.user_id for a in attempts}
    extra = {(r.exam_id, r.user_id): r for r in db.session.scalars(
        select(ExtraTime).where(ExtraTime.exam_id.in_(exams), ExtraTime.user_id.in_(users)))}
    silenced: dict[tuple[int, int], list[Accommodation]] = {}
    for r in db.session.scalars(select(Accommodation).where(Accommodation.exam_id.in_(exams),
                                                            Accommodation.user_id.in_(users))
                                .order_by(Accommodation.flag_kind)):
        silenced.setdefault((r.exam_id, r.user_id), []).append(r)
    out: dict[int, dict[str, object]] = {}
    for a in attempts:
        key = (a.exam_id, a.user_id)
        time, kinds = extra.get(key), silenced.get(key, [])
        if time is None and not kinds:
            continue
        minutes = 0 if time is None else extra_minutes(time.extra_minutes, time.extra_percent, a.exam.duration_minutes)
        out[a.id] = {"extra_minutes": minutes, "reason": time.reason if time is not None else kinds[0].reason,
                     "silenced": [kind_label(k.flag_kind) for k in kinds]}
    return out
