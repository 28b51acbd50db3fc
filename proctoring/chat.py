"""Chat between proctor and candidate during the attempt.

Each message is its own encrypted blob of category ``chat`` (same retention as the recording);
the timeline records only that a message was sent, never its text.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import Role, User
from exams.attempts import record_event
from exams.models import Attempt, AttemptStatus
from kernel.db import db
from kernel.errors import Conflict, ValidationFailed
from storage import vault
from storage.models import Blob, BlobState

MAX_TEXT = 1000


def send(attempt: Attempt, sender: User, text: str, now: dt.datetime) -> dict[str, Any]:
    """Store one message encrypted with the attempt's data."""
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise Conflict(_("This attempt has already ended."))
    text = (text or "").strip()
    if not text or len(text) > MAX_TEXT:
        raise ValidationFailed(_("Please write a message of at most %(n)d characters.", n=MAX_TEXT),
                               fields={"text": "1 to 1000 characters"})
    role = "candidate" if sender.role == Role.CANDIDATE else "proctor"
    message = {"from": role, "name": sender.display_name, "text": text, "at": now.isoformat() + "Z"}
    blob = vault.store("chat", json.dumps(message).encode(), content_type="application/json",
                       attempt_id=attempt.id, user_id=attempt.user_id, institution_id=attempt.exam.institution_id)
    record_event(attempt, f"chat_from_{role}", now, actor=sender)
    db.session.commit()
    return {"id": blob.id, **message}


def messages(attempt: Attempt, after: int = 0) -> list[dict[str, Any]]:
    """Messages of the attempt newer than blob id ``after``, oldest first (decrypted for the reader)."""
    blobs = db.session.scalars(select(Blob).where(
        Blob.attempt_id == attempt.id, Blob.category == "chat", Blob.id > after,
        Blob.state == BlobState.COMPLETE).order_by(Blob.id)).all()
    return [{"id": b.id, **json.loads(vault.read(b))} for b in blobs]


def read_by_staff(attempt: Attempt, reader: User, now: dt.datetime, after: int = 0) -> list[dict[str, Any]]:
    """The messages for a proctor or the exam office (live or in the review); the reading goes to the staff
    access log (one entry per reader and attempt within ``ACCESS_LOG_WINDOW_SECONDS``: the live chat polls)."""
    from privacy.rights import Access, record_opening

    found = messages(attempt, after)
    record_opening(reader, attempt.user_id, Access("chat", "supervision and review of the exam attempt"), now,
                   attempt_id=attempt.id)
    return found
