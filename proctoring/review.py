"""After the attempt: the review of timeline, flags and recording, and its outcome (clean / findings).

Playback decrypts only the segments a byte range needs, so seeking is cheap. Every access to a
recording is written to the attempt's timeline (who, when), and nothing is served once retention
has purged it (410).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import User
from exams.attempts import record_event
from exams.models import Attempt, AttemptStatus
from kernel.db import db
from kernel.errors import Conflict, Gone, NotFound, ValidationFailed
from storage import vault
from storage.models import Blob, BlobState

OUTCOMES = ("clean", "findings")


def recording_parts(attempt: Attempt) -> Sequence[Blob]:
    """The attempt's recording parts in order, purged ones included (shown as gone)."""
    return db.session.scalars(
        select(Blob).where(Blob.attempt_id == attempt.id, Blob.category == "recording").order_by(Blob.id)
    ).all()


def recording_part(attempt: Attempt, blob_id: int) -> Blob:
    """One part of this attempt's recording; Gone once purged."""
    blob = db.session.get(Blob, blob_id)
    if blob is None or blob.attempt_id != attempt.id or blob.category != "recording":
        raise NotFound()
    if blob.state in (BlobState.PURGED, BlobState.PURGING):
        raise Gone(_("This recording has been deleted under its retention rule."))
    return blob


def read_range(blob: Blob, start: int, end: int | None) -> tuple[bytes, int, int]:
    """Plaintext bytes [start, end] (inclusive), the part's total size and the start actually served, decrypting
    only what is needed. A negative ``start`` is a suffix range: the last ``-start`` bytes."""
    reader = vault.open_reader(blob)
    size = reader.plaintext_size
    if start < 0:
        start = max(0, size + start)
    last = size - 1 if end is None else min(end, size - 1)
    return (reader.read(start, last - start + 1) if start <= last else b""), size, start


def log_access(attempt: Attempt, viewer: User, blob_id: int, now: dt.datetime) -> None:
    """Audit: who opened which recording part, when."""
    from privacy.rights import Access, record_access

    record_event(attempt, "recording_viewed", now, actor=viewer, blob_id=blob_id)
    record_access(viewer, attempt.user_id, Access("recording", "review of the exam attempt"), now,
                  attempt_id=attempt.id)


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
