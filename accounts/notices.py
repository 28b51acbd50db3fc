"""Mails people expect, queued with the change that causes them and sent once by the job runner.

A service calls :func:`queue` inside its transaction; when that transaction commits, the notice's job
(``accounts.send_notice``) is queued, and ``accounts.send_pending_notices`` queues again what a lost job left.
A rolled-back change queues nothing. The text is composed when the mail is sent, by the composer registered
for the notice's kind (``@composer("kind")``, in the domain the mail is about), in the recipient's language;
so no link, token or text is stored, and a token in a link is made fresh at sending.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from accounts.models import Notice, User
from accounts.services import language_of
from kernel.clock import format_local, to_local, utcnow
from kernel.db import db
from kernel.jobs import enqueue_pending, exclusive, load_jobs

log = logging.getLogger(__name__)
_QUEUED = "aufsicht.notices"


@dataclasses.dataclass(frozen=True)
class Mail:
    """What a composer makes of a notice: subject and body, and where it goes (the account's address if None)."""

    subject: str
    body: str
    to: str | None = None
    # When the link in the mail stops working (a copy kept in the outbox goes then).
    expires_at: dt.datetime | None = None


Composer = Callable[[Notice], Mail | None]
COMPOSERS: dict[str, Composer] = {}


def composer(kind: str) -> Callable[[Composer], Composer]:
    """Register the function that writes mails of ``kind`` (it returns None when the mail is no longer due)."""

    def register(func: Composer) -> Composer:
        COMPOSERS[kind] = func
        return func

    return register


def local_time(user: User, value: dt.datetime) -> str:
    """A stored time as the recipient reads it: in their institution's zone, with the zone's name."""
    tz = user.institution.timezone if user.institution is not None else None
    return f"{format_local(value, tz)} ({to_local(value, tz).tzname()})"


def link(path: str) -> str:
    """An absolute link into the platform for a mail."""
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}{path}"


def queue(user: User, kind: str, key: str, **params: Any) -> Notice | None:
    """Queue a mail of ``kind`` to ``user`` once per ``key`` (caller commits; the job is queued at commit)."""
    if kind not in COMPOSERS:
        load_jobs()  # the job modules import every module with composers
    if kind not in COMPOSERS:
        raise KeyError(kind)
    if db.session.scalar(select(Notice.id).where(Notice.key == key)) is not None:
        return None
    notice = Notice(user_id=user.id, kind=kind, key=key[:120], params=params, created_at=utcnow())
    db.session.add(notice)
    return notice


@event.listens_for(Session, "after_flush")
def _remember_new(session: Session, _ctx: Any) -> None:
    ids = [obj.id for obj in session.new if isinstance(obj, Notice)]
    if ids:
        session.info.setdefault(_QUEUED, set()).update(ids)


@event.listens_for(Session, "after_commit")
def _queue_committed(session: Session) -> None:
    for notice_id in sorted(session.info.pop(_QUEUED, ())):
        enqueue_pending("accounts.send_notice", notice_id=notice_id)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_QUEUED, None)


def send_notice(notice_id: int) -> str | None:
    """Send one notice, once: a run beside another does nothing, a run after it finds it sent.

    SMTP errors fail the job and leave the notice unsent for ``send_pending_notices``. A composer that finds
    the mail no longer due (say, the address was confirmed meanwhile) marks it done without a mail.
    """
    from exams.mailer import LINK_EXPIRES, deliver, plain_message

    load_jobs()
    with exclusive(f"accounts.send_notice:{notice_id}") as mine:
        notice = db.session.get(Notice, notice_id) if mine else None
        if notice is None or notice.sent_at is not None:
            return None
        user = notice.user
        mail = None
        if user.erased_at is None:
            with force_locale(language_of(user, notice.params.get("lang"))):
                mail = COMPOSERS[notice.kind](notice)
        where = None
        if mail is not None:
            msg = plain_message(mail.to or user.email, mail.subject, mail.body)
            if mail.expires_at is not None:
                msg[LINK_EXPIRES] = mail.expires_at.isoformat()
            where = deliver(msg)
        notice.sent_at = utcnow()
        db.session.commit()
        return where


def send_pending_notices(now: dt.datetime) -> int:
    """Queue again the notices left unsent (the queue was down, SMTP failed) for up to three days."""
    ids = db.session.scalars(
        select(Notice.id).where(Notice.sent_at.is_(None), Notice.created_at < now - dt.timedelta(minutes=2),
                                Notice.created_at > now - dt.timedelta(days=3)).order_by(Notice.id).limit(500)
    ).all()
    for notice_id in ids:
        enqueue_pending("accounts.send_notice", notice_id=notice_id)
    return len(ids)
