"""Models of the identity check: one check per candidate and exam."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from kernel.clock import utcnow
from kernel.db import db


class IdCheckStatus(enum.StrEnum):
    """Where a candidate's identity check stands (the candidate sees this)."""

    STARTED = "started"  # consent given, photos not yet complete
    PROCESSING = "processing"  # photos in, the job runs
    RETAKE = "retake"  # a photo was not usable: the candidate retakes it
    VERIFIED = "verified"  # face matched (automatically) or a person confirmed it
    REVIEW = "review"  # doubtful or no match: a person decides (never refused automatically)
    REJECTED = "rejected"  # a person decided it is not the candidate, with a reason (final unless reopened)
    MANUAL = "manual"  # no biometric check: a proctor compares face and ID in the live view before the start

    @property
    def label(self) -> str:
        """The status in the reader's language."""
        from flask_babel import gettext as _

        return {"started": _("started"), "processing": _("photos being checked"), "retake": _("photo to retake"),
                "verified": _("identity confirmed"), "review": _("waiting for a person's review"),
                "rejected": _("identity not confirmed"), "manual": _("waiting for the check by a proctor")}[self.value]


class IdCheck(db.Model):  # type: ignore[name-defined]
    """A candidate's identity check for one exam; images only as encrypted blobs."""

    __table_args__ = (UniqueConstraint("user_id", "exam_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exam.id", ondelete="CASCADE"), index=True)
    status: Mapped[IdCheckStatus] = mapped_column(
        Enum(IdCheckStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=IdCheckStatus.STARTED,
    )
    biometric: Mapped[bool] = mapped_column(Boolean, default=True)
    id_image_blob_id: Mapped[int | None] = mapped_column(ForeignKey("blob.id", ondelete="SET NULL"))
    selfie_blob_id: Mapped[int | None] = mapped_column(ForeignKey("blob.id", ondelete="SET NULL"))
    frames_blob_id: Mapped[int | None] = mapped_column(ForeignKey("blob.id", ondelete="SET NULL"))
    template_blob_id: Mapped[int | None] = mapped_column(ForeignKey("blob.id", ondelete="SET NULL"))
    challenge: Mapped[list[Any]] = mapped_column(JSON, default=list)  # steps: move, prompted_ms, deadline_ms
    # Selfie submissions so far: the first plus the retakes (limited by IDCHECK_MAX_RETAKES).
    selfie_uploads: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    auto_decision: Mapped[str | None] = mapped_column(String(16))
    distance: Mapped[float | None] = mapped_column(Float)
    liveness_passed: Mapped[bool | None] = mapped_column(Boolean)
    # the device label of the camera of the live challenge, kept only when it names a known virtual camera
    # (idcheck.cameras): information for the reviewer, never a reason to refuse
    virtual_camera: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    document_check: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class IdCheckMessage(db.Model):  # type: ignore[name-defined]
    """A chat message in the check by a proctor (``idcheck.chat``): kept only until the check is decided."""

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("id_check.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)  # the candidate
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    from_proctor: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text)
