"""Models of results out: institution API tokens, webhook endpoints and the delivery log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kernel.clock import utcnow
from kernel.db import db


class ApiToken(db.Model):  # type: ignore[name-defined]
    """A token an institution's own systems call the API with: only its SHA-256 is stored (shown once)."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # What it may do: "results:read", "rosters:manage" (results.tokens.Scope).
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The first characters of the token, so the office can tell its tokens apart (not enough to use one).
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))


class WebhookEndpoint(db.Model):  # type: ignore[name-defined]
    """An address of the institution's own system that is told of result events, signed with its secret."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    # Which events it is sent (results.webhooks.Event values).
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The signing secret, sealed under the storage master keys (shown once at creation).
    secret_key_id: Mapped[str] = mapped_column(String(64))
    secret_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class WebhookDelivery(db.Model):  # type: ignore[name-defined]
    """One event for one endpoint: the exact body sent, and how its delivery went (the office's delivery log)."""

    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), index=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    # The ``webhook-id`` header: the same on every retry, so the receiver can drop a repeat.
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    # "pending" (waiting for its next try), "delivered" (a 2xx answer) or "failed" (gave up after the last try).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    response_code: Mapped[int | None] = mapped_column(Integer)
    # What went wrong in a few words ("HTTP 500", "cannot connect to ..."), never the answer's body.
    last_error: Mapped[str | None] = mapped_column(String(200))

    endpoint: Mapped[WebhookEndpoint] = relationship()
