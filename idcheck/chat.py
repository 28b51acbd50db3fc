"""Chat in the check by a proctor: the proctor and the waiting candidate write to each other beside the call.

Only while the check waits for a proctor; the messages go when the check is decided (:func:`forget`, called by
``idcheck.manual.decide_by_eye``), and any left behind (a check that moved to the automatic path) after
``IDCHECK_CHAT_RETENTION_DAYS`` through the inventory's row retention. Nothing is kept for the exam.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, func, select

from accounts.models import User
from idcheck.models import IdCheck, IdCheckMessage, IdCheckStatus
from kernel.db import db
from kernel.errors import Conflict, ValidationFailed

MAX_TEXT = 1000
MAX_MESSAGES = 200  # per check: a conversation about holding up an ID document, not a channel


def send(check: IdCheck, sender: User, text: str, now: dt.datetime, *, from_proctor: bool) -> dict[str, Any]:
    """Store one message of the proctor (``from_proctor``) or the candidate; Conflict once the check is decided."""
    if check.status != IdCheckStatus.MANUAL:
        raise Conflict(_("This identity check is decided."))
    text = (text or "").strip()
    if not text or len(text) > MAX_TEXT:
        raise ValidationFailed(_("Please write a message of at most %(n)d characters.", n=MAX_TEXT),
                               fields={"text": "1 to 1000 characters"})
    count = db.session.scalar(select(func.count(IdCheckMessage.id)).where(IdCheckMessage.check_id == check.id))
    if (count or 0) >= MAX_MESSAGES:
        raise Conflict(_("This conversation is long enough; please use the call."))
    message = IdCheckMessage(check_id=check.id, user_id=check.user_id, sender_id=sender.id,
                             from_proctor=from_proctor, at=now, text=text)
    db.session.add(message)
    db.session.commit()
    return _json(message, sender)


def messages(check: IdCheck, after: int = 0) -> list[dict[str, Any]]:
    """The check's messages newer than id ``after``, oldest first, in the shape the exam's chat uses."""
    rows = db.session.execute(
        select(IdCheckMessage, User).outerjoin(User, User.id == IdCheckMessage.sender_id)
        .where(IdCheckMessage.check_id == check.id, IdCheckMessage.id > after).order_by(IdCheckMessage.id)).all()
    return [_json(m, u) for m, u in rows]


def forget(check_id: int) -> None:
    """Delete the check's messages (at its decision; the caller commits)."""
    db.session.execute(delete(IdCheckMessage).where(IdCheckMessage.check_id == check_id))


def _json(m: IdCheckMessage, sender: User | None) -> dict[str, Any]:
    return {"id": m.id, "from": "proctor" if m.from_proctor else "candidate",
            "name": sender.display_name if sender is not None else "", "text": m.text,
            "at": m.at.isoformat() + "Z"}
