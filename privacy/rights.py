"""Rights of the person (GDPR Art. 16, 18, 21, 7(3)) and the audit of staff access to their files."""

from __future__ import annotations

import dataclasses
import datetime as dt

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import User
from accounts.services import record_consent
from accounts.validation import clean_registration
from exams.attempts import GateNotPassed, register_gate
from exams.models import Exam
from kernel.db import db
from privacy.models import AccessLog, ProfileChange
from storage.models import Blob
from storage.retention import purge_blob_now

#: Profile fields a candidate may correct themselves; name changes go through the same validation.
EDITABLE = ("salutation", "first_name", "last_name", "street", "postal_code", "city", "country", "phone",
            "date_of_birth", "place_of_birth", "gender", "id_document_number")
_NOT_CHECKED_HERE = "x" * 64  # clean_registration also checks a password; rectification never changes it
#: Fields a certificate binds: once the identity is verified, a change is a request the exam office decides.
VERIFIED_FIELDS = ("first_name", "last_name", "date_of_birth")


def identity_verified(user: User) -> bool:
    """True when some identity check of ``user`` was decided as verified."""
    from idcheck.models import IdCheck, IdCheckStatus

    return db.session.scalar(select(IdCheck.id).where(IdCheck.user_id == user.id,
                                                      IdCheck.status == IdCheckStatus.VERIFIED).limit(1)) is not None


def rectify(user: User, form: dict[str, str], today: dt.date) -> list[str]:
    """Correct profile fields with the registration's validation; each change goes to the audit trail.

    After a verified identity, name and birth date are not changed here: each becomes a request the exam
    office approves (:func:`decide_change`); the returned list names only what changed at once.
    """
    prof = user.profile
    assert prof is not None  # noqa: S101 - candidates have a profile
    current = {f: "" if getattr(prof, f) is None else str(getattr(prof, f)) for f in EDITABLE}
    merged = {**current, **{f: form[f] for f in EDITABLE if f in form}, "email": user.email,
              "password": _NOT_CHECKED_HERE}
    reg = clean_registration(merged, today)
    changed = []
    guarded = identity_verified(user)
    for field in EDITABLE:
        new = getattr(reg, field)
        old = getattr(prof, field)
        if new != old and guarded and field in VERIFIED_FIELDS:
            _request_change(user, field, old, new)
            continue
        if new != old:
            changed.append(field)
            db.session.add(ProfileChange(user_id=user.id, field=field, old_value=None if old is None else str(old),
                                         new_value=None if new is None else str(new), changed_by_id=user.id))
            setattr(prof, field, new)
    if {"first_name", "last_name"} & set(changed):
        user.display_name = f"{prof.first_name} {prof.last_name}"
    db.session.commit()
    return changed


def _request_change(user: User, field: str, old: object, new: object) -> None:
    """Record (or replace) the pending request to change one verified field."""
    pending = db.session.scalar(select(ProfileChange).where(ProfileChange.user_id == user.id,
                                                            ProfileChange.field == field,
                                                            ProfileChange.status == "requested"))
    if pending is None:
        pending = ProfileChange(user_id=user.id, field=field, changed_by_id=user.id, status="requested")
        db.session.add(pending)
    pending.old_value = None if old is None else str(old)
    pending.new_value = None if new is None else str(new)


def pending_fields(user: User) -> list[str]:
    """Fields of ``user`` with a change waiting for the exam office."""
    return list(db.session.scalars(select(ProfileChange.field).where(ProfileChange.user_id == user.id,
                                                                     ProfileChange.status == "requested")))


def requested_changes(staff: User) -> list[ProfileChange]:
    """Requested changes of name or birth date by candidates of the staff member's institution, oldest first."""
    return list(db.session.scalars(
        select(ProfileChange).join(User, User.id == ProfileChange.user_id)
        .where(ProfileChange.status == "requested", User.institution_id == staff.institution_id)
        .order_by(ProfileChange.id)))


def decide_change(staff: User, change_id: int, approve: bool, now: dt.datetime) -> ProfileChange:
    """The exam office approves (then applies) or refuses a requested change; the trail keeps both."""
    from kernel.errors import Conflict, NotFound

    change = db.session.get(ProfileChange, change_id)
    person = db.session.get(User, change.user_id) if change is not None else None
    if change is None or person is None or person.institution_id != staff.institution_id:
        raise NotFound()
    if change.status != "requested":
        raise Conflict(_("This change has already been decided."))
    change.status = "approved" if approve else "refused"
    change.decided_by_id, change.decided_at = staff.id, now
    prof = person.profile
    if approve and prof is not None:
        value: object = change.new_value
        if change.field == "date_of_birth" and change.new_value:
            value = dt.date.fromisoformat(change.new_value)
        setattr(prof, change.field, value)
        if change.field in ("first_name", "last_name"):
            person.display_name = f"{prof.first_name} {prof.last_name}"
    db.session.commit()
    return change


def changes_of(user: User) -> list[ProfileChange]:
    """The rectification trail, newest first."""
    return list(db.session.scalars(select(ProfileChange).where(ProfileChange.user_id == user.id)
                                   .order_by(ProfileChange.id.desc())))


def withdraw_biometric_consent(user: User, now: dt.datetime) -> int:
    """Record the withdrawal and destroy every face template, selfie, frame set and ID photo at once; returns how
    many files."""
    from idcheck.models import IdCheck, IdCheckStatus

    record_consent(user, "biometrics", current_app.config["PRIVACY_NOTICE_VERSION"], False)
    destroyed = 0
    for check in db.session.scalars(select(IdCheck).where(IdCheck.user_id == user.id)).all():
        for attr in ("template_blob_id", "selfie_blob_id", "frames_blob_id", "id_image_blob_id"):
            blob = db.session.get(Blob, getattr(check, attr)) if getattr(check, attr) else None
            if blob is not None:
                purge_blob_now(blob, now, "biometric consent withdrawn")
                destroyed += 1
            setattr(check, attr, None)
        check.biometric = False
        if check.status == IdCheckStatus.REVIEW:  # the proctor who compares by eye learns what the reviewer had
            check.reason = f"consent withdrawn during review; automatic result: {check.reason or '-'}"[:2000]
        if check.status in (IdCheckStatus.STARTED, IdCheckStatus.PROCESSING, IdCheckStatus.RETAKE,
                            IdCheckStatus.REVIEW):
            check.status = IdCheckStatus.MANUAL  # the alternative: a proctor compares by eye
    db.session.commit()
    return destroyed


def set_restriction(user: User, restricted: bool, now: dt.datetime) -> None:
    """Restrict processing (Art. 18) or lift it: no new attempts, no identity checks while restricted."""
    user.restricted_at = now if restricted else None
    db.session.commit()


def object_to_processing(user: User, now: dt.datetime) -> None:
    """An objection (Art. 21) is recorded and restricts processing until staff have decided."""
    record_consent(user, "processing", current_app.config["PRIVACY_NOTICE_VERSION"], False)
    set_restriction(user, True, now)


@dataclasses.dataclass(frozen=True)
class Access:
    """What staff opened."""

    what: str  # recording, id_image, selfie, chat, snapshot
    why: str


def record_access(actor: User, subject_id: int, access: Access, now: dt.datetime,
                  attempt_id: int | None = None) -> None:
    """Audit one staff access to a person's recording, ID image or chat (the person sees it in the export)."""
    db.session.add(AccessLog(at=now, actor_id=actor.id, subject_id=subject_id, what=access.what,
                             why=access.why[:200], attempt_id=attempt_id))
    db.session.commit()


def record_opening(actor: User, subject_id: int, access: Access, now: dt.datetime, attempt_id: int) -> bool:
    """Audit an opening of an attempt's recording or chat, whatever part of it is read; whether it was logged.

    A player reads a recording in many range requests (every seek is one) and the live chat is polled: one
    entry per actor, person, attempt and kind of file covers ``ACCESS_LOG_WINDOW_SECONDS``; the first read
    after that is logged again. So every read has an entry at most that long before it.
    """
    window = dt.timedelta(seconds=float(current_app.config.get("ACCESS_LOG_WINDOW_SECONDS", 600)))
    covered = db.session.scalar(select(AccessLog.id).where(
        AccessLog.actor_id == actor.id, AccessLog.subject_id == subject_id, AccessLog.what == access.what,
        AccessLog.attempt_id == attempt_id, AccessLog.at > now - window, AccessLog.at <= now).limit(1))
    if covered is not None:
        return False
    record_access(actor, subject_id, access, now, attempt_id=attempt_id)
    return True


def access_log_of(user_id: int) -> list[AccessLog]:
    """Staff accesses to a person's files, newest first."""
    return list(db.session.scalars(select(AccessLog).where(AccessLog.subject_id == user_id)
                                   .order_by(AccessLog.id.desc())))


@register_gate
def not_restricted(candidate: User, exam: Exam) -> None:
    """While processing is restricted (Art. 18) no new attempt starts."""
    if candidate.restricted_at is not None:
        raise GateNotPassed(_("You have restricted the processing of your data. Lift the restriction on your "
                              "privacy page to take an exam."), gate="restriction")
