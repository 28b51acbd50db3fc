"""Models of the privacy domain: exports, the access audit, rectifications, institution settings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.clock import utcnow
from kernel.db import db


class DataExport(db.Model):  # type: ignore[name-defined]
    """A candidate's data export (GDPR Art. 15/20): built in the background, downloadable until it expires."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued, running, ready, failed
    lang: Mapped[str] = mapped_column(String(2), default="de", server_default="de")  # of the summary
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    blob_id: Mapped[int | None] = mapped_column(ForeignKey("blob.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class AccessLog(db.Model):  # type: ignore[name-defined]
    """Staff opened a recording, an ID image or a selfie of a candidate: who, what, when, why."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    what: Mapped[str] = mapped_column(String(32))
    why: Mapped[str] = mapped_column(String(200))
    attempt_id: Mapped[int | None] = mapped_column(Integer)


class ProfileChange(db.Model):  # type: ignore[name-defined]
    """Rectification audit trail: one changed profile field (GDPR Art. 16)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # "applied" (changed at once), or, for name and birth date after a verified identity, "requested" until
    # the exam office decides: "approved" (then applied) or "refused".
    status: Mapped[str] = mapped_column(String(16), default="applied", server_default="applied")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class InstitutionSettings(db.Model):  # type: ignore[name-defined]
    """What an institution chose within the law; a missing row means the defaults."""

    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="CASCADE"), primary_key=True)
    # "controller": we decide purposes and means; "processor": we process on the institution's behalf (Art. 28).
    role: Mapped[str] = mapped_column(String(16), default="processor")
    recording: Mapped[bool] = mapped_column(Boolean, default=True)
    biometric_matching: Mapped[bool] = mapped_column(Boolean, default=True)
    appeal_window_days: Mapped[int] = mapped_column(Integer, default=7)
    # ID photos are deleted right after the identity decision, or kept until the exam closes.
    keep_id_images_until_exam_end: Mapped[bool] = mapped_column(Boolean, default=False)
    # The exam may start while a person reviews a doubtful identity check (the result waits for the decision).
    start_during_identity_review: Mapped[bool] = mapped_column(Boolean, default=False)
    # Which sessions a person reviews before a result may be released: "all", or "flagged" (a flag, an
    # identity doubt or a proctor's note).
    review_policy: Mapped[str] = mapped_column(String(16), default="flagged", server_default="flagged")
