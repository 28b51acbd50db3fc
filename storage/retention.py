"""Retention rules and purge.

SAFETY: bugs in code that deletes personal data cause irreversible harm. Therefore:
- every rule is declared once, in ``RULES`` below, and nothing else decides what is due;
- purge first destroys the wrapped data key (crypto-shredding: the ciphertext is unreadable
  from that moment, in backups too), writes a receipt, commits, and only then deletes bytes;
- it works in batches, one transaction each, logs counts, supports ``dry_run``, and is
  idempotent: a crash half-way leaves blobs in state ``purging``, which the next run finishes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import ColumnElement, and_, false, or_, select

from kernel.db import db
from storage.models import Blob, BlobState, PurgeReceipt

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Rule:
    """How long blobs of one category are kept."""

    description: str
    # "attempt": the attempt's appeal window / certificate rule; "retain_until": the owner sets the date;
    # "age": a fixed number of days after creation.
    anchor: str
    days: int = 0


ATTEMPT_RULE = Rule(
    "after any required review, when the appeal window ends (end of day 7 after the result, or the certificate "
    "asked for sooner) or, never released, 30 days after the exam; an open appeal holds it",
    "attempt",
)

#: The one table of retention rules for stored files, by blob category.
RULES: dict[str, Rule] = {
    "recording": ATTEMPT_RULE,
    "snapshot": ATTEMPT_RULE,
    "chat": ATTEMPT_RULE,
    "playback": ATTEMPT_RULE,
    "answer_file": ATTEMPT_RULE,  # a file a candidate handed in for an upload item (exams.itemmedia)
    "phone_recording": ATTEMPT_RULE,  # the phone as the second camera: kept exactly as the webcam's parts
    "face_template": Rule("the verified face template is deleted with the exam's data (the exam's end plus the "
                          "appeal window), or at once when biometric consent is withdrawn", "retain_until"),
    "id_image": Rule("deleted right after the identity decision (or at the exam's end if the institution "
                     "keeps them); at the latest at the exam's end, or 7 days after an unfinished check",
                     "retain_until"),
    "export": Rule("data export: deleted 7 days after it was made", "age", 7),
}
#: Item images (exams.itemmedia, category "item_image") and item audio and video (exams.stimuli, category
#: "item_media") are exam content, not about a person: no rule here, so
#: nothing purges them; they go with their institution.
#: Not a stored file but kept by the same clock: login audit entries, 7 days (accounts.services).
LOGIN_AUDIT_RULE = "login audit entries: 7 days"


#: SQL conditions for anchors that storage cannot judge itself, registered by the domain that owns them
#: (``"attempt"``: ``exams.evidence``, wired by the app factory). An anchor nobody registered purges nothing.
ANCHORS: dict[str, Callable[[dt.datetime], ColumnElement[bool]]] = {}


def register_anchor(name: str, condition: Callable[[dt.datetime], ColumnElement[bool]]) -> None:
    """Let a domain say when blobs of an anchor are due (a condition on ``Blob``, given the time now)."""
    ANCHORS[name] = condition


def _due_condition(category: str, rule: Rule, now: dt.datetime) -> ColumnElement[bool]:
    if rule.anchor == "age":
        return Blob.created_at <= now - dt.timedelta(days=rule.days)
    if rule.anchor == "retain_until":
        return and_(Blob.retain_until.is_not(None), Blob.retain_until <= now)
    condition = ANCHORS.get(rule.anchor)
    if condition is None:  # safe side: nothing is due under a rule nobody can judge
        log.error("retention anchor %r has no registered condition; %s blobs are kept", rule.anchor, category)
        return false()
    return condition(now)


def due_query(now: dt.datetime) -> ColumnElement[bool]:
    """SQL condition: a live blob that its category's rule says must go now."""
    per_category = [and_(Blob.category == cat, _due_condition(cat, rule, now)) for cat, rule in RULES.items()]
    return and_(Blob.state.in_([BlobState.COMPLETE, BlobState.CUT, BlobState.WRITING]), or_(false(), *per_category))


@dataclasses.dataclass
class PurgeReport:
    """What a purge run did (or, dry, would do)."""

    shredded: int = 0
    deleted: int = 0
    by_category: dict[str, int] = dataclasses.field(default_factory=dict)
    blob_ids: list[int] = dataclasses.field(default_factory=list)


def purge_expired(now: dt.datetime, *, dry_run: bool = False, batch: int = 500) -> PurgeReport:
    """Crypto-shred and delete every blob past its rule; finish purges a crash interrupted."""
    from storage.vault import backend

    report = PurgeReport()
    condition = due_query(now)
    if dry_run:
        for blob_id, category in db.session.execute(select(Blob.id, Blob.category).where(condition)).all():
            report.blob_ids.append(blob_id)
            report.by_category[category] = report.by_category.get(category, 0) + 1
        log.info("purge dry run: %d blobs due, by category %s", len(report.blob_ids), report.by_category)
        return report
    while True:
        rows: Sequence[Blob] = db.session.scalars(select(Blob).where(condition).order_by(Blob.id).limit(batch)).all()
        if not rows:
            break
        for blob in rows:
            report.by_category[blob.category] = report.by_category.get(blob.category, 0) + 1
            report.blob_ids.append(blob.id)
            blob.wrapped_key = None
            blob.state = BlobState.PURGING
            db.session.add(PurgeReceipt(blob_id=blob.id, category=blob.category,
                                        rule=RULES[blob.category].description, institution_id=blob.institution_id,
                                        user_id=blob.user_id, attempt_id=blob.attempt_id, purged_at=now))
        db.session.commit()
        report.shredded += len(rows)
    report.deleted = finish_purging(now, backend())
    log.info("purge: %d blobs shredded, %d deleted, by category %s", report.shredded, report.deleted,
             report.by_category)
    return report


def finish_purging(now: dt.datetime, be: object, batch: int = 500) -> int:
    """Delete the bytes of blobs whose key is already destroyed; marks them purged."""
    done = 0
    while True:
        rows = db.session.scalars(select(Blob).where(Blob.state == BlobState.PURGING).limit(batch)).all()
        if not rows:
            return done
        for blob in rows:
            be.delete(blob.key)  # type: ignore[attr-defined]
            blob.state = BlobState.PURGED
            blob.purged_at = now
        db.session.commit()
        done += len(rows)


def purge_blob_now(blob: Blob, now: dt.datetime, reason: str) -> None:
    """Purge one blob at once (identity decision, consent withdrawn, erasure), with a receipt."""
    from storage.vault import backend

    if blob.state == BlobState.PURGED:
        return
    if blob.state != BlobState.PURGING:  # a purge cut off after its receipt is only finished: one receipt
        blob.wrapped_key = None
        blob.state = BlobState.PURGING
        db.session.add(PurgeReceipt(blob_id=blob.id, category=blob.category, rule=reason,
                                    institution_id=blob.institution_id, user_id=blob.user_id,
                                    attempt_id=blob.attempt_id, purged_at=now))
        db.session.commit()
    backend().delete(blob.key)
    blob.state = BlobState.PURGED
    blob.purged_at = now
    db.session.commit()


def receipts_for(*, user_id: int | None = None, institution_id: int | None = None) -> Sequence[PurgeReceipt]:
    """Purge receipts a candidate or an institution may see."""
    q = select(PurgeReceipt).order_by(PurgeReceipt.purged_at.desc())
    if user_id is not None:
        q = q.where(PurgeReceipt.user_id == user_id)
    if institution_id is not None:
        q = q.where(PurgeReceipt.institution_id == institution_id)
    return db.session.scalars(q).all()
