"""Erasure of an account (GDPR Art. 17), driven by the inventory.

Every stored file of the person is crypto-shredded and deleted (with a receipt); every table's
rows are deleted, anonymised or kept as the inventory says. What is kept is listed to the person
beforehand and afterwards, each with the reason and the date it goes; ``expire_kept`` deletes it
then. The user row stays, anonymised, so kept results and certificates point at no one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import delete, func, select, update

from accounts.models import User
from kernel.db import db
from privacy import subject
from privacy.inventory import RECORDS, Erase, T
from storage.models import Blob, BlobState
from storage.retention import purge_blob_now

#: The column that dates a kept row, per table.
KEEP_SINCE = {"attempt": "started_at", "certificate": "issued_at", "purge_receipt": "purged_at", "access_log": "at",
              "blob": "created_at"}


@dataclasses.dataclass(frozen=True)
class Kept:
    """Something that stays after erasure: what, why, until when."""

    table: str
    count: int
    reason: T
    until: dt.date | None


def kept_after_erasure(user_id: int) -> list[Kept]:
    """What erasing this account would keep (or has kept), with the reason and the date it goes."""
    out = []
    for rec in RECORDS:
        if rec.erase != Erase.KEEP or rec.keep_reason is None:
            continue
        t = subject.table(rec)
        count, newest = db.session.execute(
            select(func.count(), func.max(t.c[KEEP_SINCE[rec.table]])).where(subject.owned_by(rec, user_id))).one()
        if count:
            until = (newest + dt.timedelta(days=365 * rec.keep_years)).date() if newest and rec.keep_years else None
            out.append(Kept(rec.table, count, rec.keep_reason, until))
    return out


def erase_account(user: User, now: dt.datetime) -> list[Kept]:
    """Delete or anonymise everything of ``user`` not under a duty to keep; returns what was kept."""
    from exams.mailer import erase_outbox_mails

    erase_outbox_mails(user.email)  # before the address is anonymised
    for blob in db.session.scalars(select(Blob).where(Blob.user_id == user.id,
                                                      Blob.state != BlobState.PURGED)).all():
        purge_blob_now(blob, now, "account erased at the person's request")
    for rec in RECORDS:
        t = subject.table(rec)
        if rec.erase == Erase.DELETE:
            db.session.execute(delete(t).where(subject.owned_by(rec, user.id)))
        elif rec.erase == Erase.ANONYMISE:
            values = {col: (item.anonymised.format(id=user.id) if isinstance(item.anonymised, str)
                            else item.anonymised) for col, item in rec.fields.items()}
            db.session.execute(update(t).where(subject.owned_by(rec, user.id)).values(**values))
    db.session.execute(update(User.__table__).where(User.id == user.id).values(
        active=False, erased_at=now, session_version=User.session_version + 1))
    db.session.commit()
    db.session.expire_all()
    return kept_after_erasure(user.id)


def expire_kept(now: dt.datetime) -> int:
    """Delete kept rows of erased accounts whose keeping period has passed; returns how many."""
    erased = select(User.id).where(User.erased_at.is_not(None))
    done = 0
    for rec in reversed(RECORDS):  # certificates before the attempts they point to
        if rec.erase != Erase.KEEP or not rec.keep_years:
            continue
        t = subject.table(rec)
        cutoff = now - dt.timedelta(days=365 * rec.keep_years)
        owner = (t.c.attempt_id.in_(select(db.metadata.tables["attempt"].c.id).where(
            db.metadata.tables["attempt"].c.user_id.in_(erased))) if rec.owner == "attempt"
            else t.c[rec.owner].in_(erased))
        result = db.session.execute(delete(t).where(owner, t.c[KEEP_SINCE[rec.table]] < cutoff))
        done += int(getattr(result, "rowcount", 0) or 0)
    db.session.commit()
    return done
