"""Models of the LTI domain: platform registrations, logins in flight, links, enrolments, proctoring sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Institution, User
from exams.models import Attempt, Exam
from kernel.clock import utcnow
from kernel.db import db


class LtiPlatform(db.Model):  # type: ignore[name-defined]
    """A learning platform (Moodle, Open edX, ...) registered by the exam office: what it told us to copy."""

    __tablename__ = "lti_platform"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(200))
    # The platform's OIDC authorization endpoint (where the login initiation is answered), its OAuth 2 token
    # endpoint (for roster, grades and the assessment control service) and its public key set.
    auth_login_url: Mapped[str] = mapped_column(String(500))
    auth_token_url: Mapped[str] = mapped_column(String(500))
    jwks_url: Mapped[str] = mapped_column(String(500))
    # The deployment ids the platform gave for this tool: a launch from any other deployment is refused.
    deployment_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    institution: Mapped[Institution] = relationship()


class LtiLoginState(db.Model):  # type: ignore[name-defined]
    """A login that came back with a launch the platform signed: its ``state`` and ``nonce``, kept so that neither
    is used twice. Logins in flight live in the browser's signed cookie only (``lti.tool.begin_login``)."""

    __tablename__ = "lti_login_state"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platform.id", ondelete="CASCADE"), index=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    target_link_uri: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class LtiIdentity(db.Model):  # type: ignore[name-defined]
    """The link of an account to a person at a platform: the platform's ``sub`` for them."""

    __tablename__ = "lti_identity"
    __table_args__ = (UniqueConstraint("platform_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platform.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_launch_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()


class LtiLink(db.Model):  # type: ignore[name-defined]
    """A resource link of a course at a platform that opens one of our exams, with the services it offered."""

    __tablename__ = "lti_link"
    __table_args__ = (UniqueConstraint("platform_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platform.id", ondelete="CASCADE"), index=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exam.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[str] = mapped_column(String(255))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    context_id: Mapped[str | None] = mapped_column(String(255))
    context_title: Mapped[str | None] = mapped_column(String(255))
    # Names and Role Provisioning (the course's members) and Assignment and Grade Services (the grade column).
    memberships_url: Mapped[str | None] = mapped_column(String(500))
    lineitems_url: Mapped[str | None] = mapped_column(String(500))
    lineitem_url: Mapped[str | None] = mapped_column(String(500))
    ags_scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Why the last sending of results failed (shown to the exam office); None after a sending that worked.
    results_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    platform: Mapped[LtiPlatform] = relationship()
    exam: Mapped[Exam] = relationship()


class LtiEnrolment(db.Model):  # type: ignore[name-defined]
    """A candidate enrolled through a link (by a launch or the course roster); where the result was sent."""

    __tablename__ = "lti_enrolment"
    __table_args__ = (UniqueConstraint("link_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("lti_link.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16))  # "launch" or "roster"
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    score_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    score_sent_percent: Mapped[int | None] = mapped_column(Integer)

    link: Mapped[LtiLink] = relationship()
    user: Mapped[User] = relationship()


class LtiProctoring(db.Model):  # type: ignore[name-defined]
    """One proctored attempt the platform started with LtiStartProctoring (1EdTech LTI Proctoring Services)."""

    __tablename__ = "lti_proctoring"

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("lti_link.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    attempt_number: Mapped[int] = mapped_column(Integer)
    # The platform's anti-CSRF value, sent back unchanged in LtiStartAssessment.
    session_data: Mapped[str] = mapped_column(Text)
    start_assessment_url: Mapped[str] = mapped_column(String(500))
    # Assessment Control Service, where the platform offers it: its URL and the actions it takes.
    acs_url: Mapped[str | None] = mapped_column(String(500))
    acs_actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="checks")  # checks, assessment, ended
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    assessment_started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_control: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A termination or identity rejection aufsicht decided for this attempt ({"event", "reason", "at", "sent"}):
    # sent by Assessment Control, or else with the grade passback's comment.
    verdict: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The exam attempt that holds the supervision of the platform's assessment (camera, screen, recording,
    # flags, chat, timeline): the linked exam's, so retention, purge and export are an attempt's.
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempt.id", ondelete="SET NULL"), index=True)

    link: Mapped[LtiLink] = relationship()
    user: Mapped[User] = relationship()
    attempt: Mapped[Attempt | None] = relationship()
