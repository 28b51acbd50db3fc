"""Models of the accounts domain."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    or_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kernel.clock import utcnow
from kernel.db import db


class Role(enum.StrEnum):
    """What a user may do; staff and proctors belong to one institution."""

    CANDIDATE = "candidate"
    PROCTOR = "proctor"
    STAFF = "staff"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        """The role's name in the user's language."""
        from flask_babel import gettext as _

        return {"candidate": _("candidate"), "proctor": _("proctor"), "staff": _("exam office"),
                "admin": _("administrator")}[self.value]


class Institution(db.Model):  # type: ignore[name-defined]
    """An exam provider: the tenant. No institution sees another's data."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Proctors of this institution may skip the second factor (admins and staff never may).
    proctor_second_factor_optional: Mapped[bool] = mapped_column(Boolean, default=False)
    # Times are stored in UTC and shown (pages, mails) in this IANA zone.
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin", server_default="Europe/Berlin")


# Password hash of accounts made by a sign-in provider or a learning platform: it matches no password (argon2
# refuses it).
NO_PASSWORD = "!openid"  # noqa: S105 - a marker, not a secret
# The accounts that hold their address (at most one per address): those with a password (it logs in by the address)
# and those whose owner confirmed the address through our mailed link. An account made by a provider or a platform
# does not hold the address it was given until then, so it never keeps the person from registering elsewhere.
_HOLDS_EMAIL = "password_hash <> '!openid' OR email_verified_at IS NOT NULL"


class User(UserMixin, db.Model):  # type: ignore[name-defined]
    """An account. Candidates register with an institution; admins have none."""

    __table_args__ = (Index("uq_user_email_held", "email", unique=True, sqlite_where=text(_HOLDS_EMAIL),
                            postgresql_where=text(_HOLDS_EMAIL)),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # Bumped by "log out everywhere": every session cookie carries the version it was made with.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_active_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Privacy (privacy/): processing restricted at the user's request; inactivity notice sent; account erased.
    restricted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    inactivity_notice_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Set when the person followed the link mailed to ``email``; an unverified candidate cannot start an exam.
    email_verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Second factor (accounts/second_factor.py): TOTP secret (sealed by the master keys), the last step taken (a code is
    # good once), and the SHA-256 hashes of the unused recovery codes as a JSON list.
    totp_secret: Mapped[str | None] = mapped_column(String(200))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    recovery_codes: Mapped[str | None] = mapped_column(Text)
    # The language the person last used ("de", "en"): mails go out in it (None: the platform's default).
    language: Mapped[str | None] = mapped_column(String(8))

    institution: Mapped[Institution | None] = relationship()
    profile: Mapped[CandidateProfile | None] = relationship(back_populates="user", uselist=False)

    def get_id(self) -> str:
        """Session identifier: id and session version, so bumping the version ends all sessions."""
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        """Deactivated accounts cannot log in."""
        return self.active

    def has_role(self, *roles: Role | str) -> bool:
        """True if the user has one of ``roles``."""
        return self.role in {Role(r) for r in roles}

    @property
    def holds_email(self) -> bool:
        """True if the account holds its address (a password, or an address its owner confirmed)."""
        return self.password_hash != NO_PASSWORD or self.email_verified_at is not None


def holds_email() -> ColumnElement[bool]:
    """The SQL condition of ``User.holds_email`` (the partial unique index ``uq_user_email_held``)."""
    return or_(User.password_hash != NO_PASSWORD, User.email_verified_at.is_not(None))


class CandidateProfile(db.Model):  # type: ignore[name-defined]
    """What an exam provider needs to know about a candidate."""

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    salutation: Mapped[str] = mapped_column(String(20))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    street: Mapped[str] = mapped_column(String(200))
    postal_code: Mapped[str] = mapped_column(String(20))
    city: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    phone: Mapped[str] = mapped_column(String(32))
    date_of_birth: Mapped[dt.date] = mapped_column(Date)
    place_of_birth: Mapped[str] = mapped_column(String(100))
    gender: Mapped[str | None] = mapped_column(String(20))
    id_document_number: Mapped[str] = mapped_column(String(40))

    user: Mapped[User] = relationship(back_populates="profile")


class ConsentRecord(db.Model):  # type: ignore[name-defined]
    """One consent given or withdrawn (privacy notice version, biometric processing)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class LoginEvent(db.Model):  # type: ignore[name-defined]
    """Login audit: who, when, success or failure, from which IP. Kept 7 days."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    ip: Mapped[str] = mapped_column(String(45), index=True)
    success: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str | None] = mapped_column(Text)
    # The OpenID provider (its name then) for a sign-in through one (accounts/oidc.py); None: a password login.
    provider: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class AccountAction(db.Model):  # type: ignore[name-defined]
    """What an administrator did to an account (lock, unlock, second factor reset, role change): who, when."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])


class Notice(db.Model):  # type: ignore[name-defined]
    """A mail to one person, queued in a transaction and sent once by the job runner (accounts.notices).

    ``key`` makes it once: the same event (an enrolment, a release) queues its mail at most once. The text is
    composed when it is sent, in the recipient's language, from ``kind`` and ``params`` (no links or tokens
    are stored).
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(120), unique=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()
