"""Institution API tokens: scoped, stored as a hash only, revocable, with the time of their last use.

A token is ``afs_`` and 43 random URL-safe characters (256 bits). It is shown once, when the exam office creates it;
we keep its SHA-256 (a token is random, so a fast hash is enough: there is nothing to guess from it) and its first
characters, so the office can tell its tokens apart. A request sends it as ``Authorization: Bearer <token>``; it
acts for its institution only, within its scopes, until it is revoked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import secrets
from collections.abc import Iterable, Sequence

from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import Role, User
from exams.models import Exam
from kernel.db import db
from kernel.errors import DomainError, Forbidden, NotFound, ValidationFailed
from results.models import ApiToken

PREFIX = "afs_"
#: How often the time of last use is written (a system polling every second writes once a minute).
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
MAX_TOKENS = 50  # live tokens per institution


class Scope(enum.StrEnum):
    """What a token may do."""

    RESULTS_READ = "results:read"
    ROSTERS_MANAGE = "rosters:manage"


class InvalidToken(DomainError):
    """No token, an unknown one or a revoked one: the caller is not authenticated."""

    status = 401
    code = "invalid_token"


@dataclasses.dataclass(frozen=True)
class NewToken:
    """A token just created: the row, and the token itself (shown this once, never stored)."""

    row: ApiToken
    token: str


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _require_office(staff: User) -> int:
    if staff.role != Role.STAFF or staff.institution_id is None:
        raise Forbidden()
    return staff.institution_id


def create_token(staff: User, name: str, scopes: Iterable[str], now: dt.datetime) -> NewToken:
    """A new token of the staff member's institution with ``scopes``; the token is returned once, stored hashed."""
    institution_id = _require_office(staff)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed(_("Give the token a name of at most 100 characters (which system uses it)."),
                               fields={"name": "missing or too long"})
    try:
        chosen = sorted({Scope(s).value for s in scopes})
    except ValueError:
        raise ValidationFailed(_("Choose what the token may do."), fields={"scopes": "unknown"}) from None
    if not chosen:
        raise ValidationFailed(_("Choose what the token may do."), fields={"scopes": "missing"})
    if len(tokens_of(institution_id, live_only=True)) >= MAX_TOKENS:
        raise ValidationFailed(_("Revoke a token first: an institution has at most %(n)d.", n=MAX_TOKENS),
                               fields={"name": "too many tokens"})
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(institution_id=institution_id, name=name, scopes=chosen, prefix=token[:12],
                   token_hash=digest(token), created_at=now, created_by_id=staff.id)
    db.session.add(row)
    db.session.commit()
    return NewToken(row, token)


def tokens_of(institution_id: int, *, live_only: bool = False) -> Sequence[ApiToken]:
    """The institution's tokens, live ones first, newest first."""
    q = select(ApiToken).where(ApiToken.institution_id == institution_id)
    if live_only:
        q = q.where(ApiToken.revoked_at.is_(None))
    return db.session.scalars(q.order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())).all()


def get_token_for(staff: User, token_id: int) -> ApiToken:
    """A token of the staff member's institution; another's is NotFound."""
    institution_id = _require_office(staff)
    row = db.session.get(ApiToken, token_id)
    if row is None or row.institution_id != institution_id:
        raise NotFound()
    return row


def revoke_token(row: ApiToken, staff: User, now: dt.datetime) -> ApiToken:
    """Revoke a token at once (its next request is refused); revoking twice changes nothing."""
    if row.revoked_at is None:
        row.revoked_at, row.revoked_by_id = now, staff.id
        db.session.commit()
    return row


def authenticate(header: str | None, scope: Scope | None, now: dt.datetime) -> ApiToken:
    """The live token an ``Authorization: Bearer`` header carries, if it has ``scope`` (any, for None); notes its use.

    InvalidToken (401) without a token, for an unknown or revoked one; Forbidden (403) when it lacks the scope.
    """
    kind, _sep, value = (header or "").partition(" ")
    value = value.strip()
    if kind.lower() != "bearer" or not value.startswith(PREFIX) or len(value) > 200:
        raise InvalidToken(_("Send an API token of your institution as 'Authorization: Bearer <token>'."))
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(value)))
    if row is None or row.revoked_at is not None:
        raise InvalidToken(_("This API token is not valid (unknown or revoked)."))
    if scope is not None and scope.value not in (row.scopes or []):
        raise Forbidden(_("This API token may not do this (it lacks the scope %(s)s).", s=scope.value))
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        db.session.commit()
    return row


def exam_for_token(token: ApiToken, exam_id: int) -> Exam:
    """An exam of the token's institution; another institution's (or none) is NotFound."""
    exam = db.session.get(Exam, exam_id)
    if exam is None or exam.institution_id != token.institution_id:
        raise NotFound()
    return exam


def exams_for_token(token: ApiToken) -> Sequence[Exam]:
    """The exams of the token's institution, newest first."""
    return db.session.scalars(select(Exam).where(Exam.institution_id == token.institution_id)
                              .order_by(Exam.opens_at.desc(), Exam.id.desc())).all()
