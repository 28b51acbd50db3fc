"""Models of the exams domain: the exam an institution offers and a candidate's attempt at it."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Institution, User
from kernel.clock import utcnow
from kernel.db import db

exam_proctor = Table(
    "exam_proctor",
    db.metadata,
    Column("exam_id", ForeignKey("exam.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
)


class Exam(db.Model):  # type: ignore[name-defined]
    """An exam with its rules and questions (questions kept as the validated spec's JSON)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    opens_at: Mapped[dt.datetime] = mapped_column(DateTime)
    closes_at: Mapped[dt.datetime] = mapped_column(DateTime)
    pass_mark_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    minimum_age: Mapped[int | None] = mapped_column(Integer)
    identity_check_required: Mapped[bool] = mapped_column(Boolean, default=True)
    proctoring_required: Mapped[bool] = mapped_column(Boolean, default=True)
    shuffle_questions: Mapped[bool] = mapped_column(Boolean, default=False)
    shuffle_options: Mapped[bool] = mapped_column(Boolean, default=False)
    # The candidate's whole screen is recorded beside the webcam (off unless the exam says so).
    screen_capture: Mapped[bool] = mapped_column(Boolean, default=False)
    # A room scan before the start and whenever a proctor asks (proctoring.roomscan; off unless the exam says so).
    room_scan_required: Mapped[bool] = mapped_column(Boolean, default=False)
    # Safe Exam Browser required (exams.lockdown), and the Browser Exam Keys of the SEB builds the office allows.
    seb_required: Mapped[bool] = mapped_column(Boolean, default=False)
    seb_browser_exam_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A phone as the second camera (desk, hands, screen), paired by QR code (proctoring.phone); off by default.
    second_camera: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def oral(self) -> bool:
        """An oral exam: it has items the candidate answers in a call with the examiner."""
        return any(isinstance(q, dict) and q.get("type") == "oral" for q in self.questions or [])
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Items drawn per attempt (file layout) and the rules that draw them; each attempt's draw is in its layout.
    pool: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    draws: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    institution: Mapped[Institution] = relationship()
    proctors: Mapped[list[User]] = relationship(secondary=exam_proctor)


class AttemptStatus(enum.StrEnum):
    """Where an attempt stands."""

    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    TERMINATED = "terminated"


class Attempt(db.Model):  # type: ignore[name-defined]
    """One candidate's sitting of one exam. The server's deadline is the clock."""

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exam.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    status: Mapped[AttemptStatus] = mapped_column(
        Enum(AttemptStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=AttemptStatus.IN_PROGRESS,
    )
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    deadline_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Set while a proctor has paused the attempt; resuming moves the deadline by the paused time.
    paused_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    seed: Mapped[int] = mapped_column(Integer)
    # Order of question ids (and option ids per question) fixed at start, so a reload shows the same exam; with
    # a pool also "drawn": the pool item ids drawn for this attempt from ``seed`` (exams.questions.draw_items).
    layout: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Time added by a proctor, and paused time, move the deadline; both are stored in deadline_at.
    points: Mapped[int | None] = mapped_column(Integer)
    max_points: Mapped[int | None] = mapped_column(Integer)
    percent: Mapped[int | None] = mapped_column(Integer)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    pending_manual: Mapped[bool] = mapped_column(Boolean, default=False)
    result_released_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Outcome of the proctoring review: "clean", "findings" or None (not reviewed); shown on verification.
    review_outcome: Mapped[str | None] = mapped_column(String(16))
    # Safe Exam Browser: "valid" while every request carried a valid key, "broken" once one did not (None: the
    # exam does not require SEB). exams.lockdown keeps it.
    seb_state: Mapped[str | None] = mapped_column(String(16))

    exam: Mapped[Exam] = relationship()
    user: Mapped[User] = relationship()


class Answer(db.Model):  # type: ignore[name-defined]
    """The latest answer to one question of an attempt; saved as it is given."""

    __table_args__ = (UniqueConstraint("attempt_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON)
    saved_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Points given by hand for free-text and oral questions (None until graded).
    manual_points: Mapped[int | None] = mapped_column(Integer)
    # The grader's note on an oral, essay or upload item (why these points), kept for appeals.
    manual_note: Mapped[str | None] = mapped_column(Text)
    # An essay graded by its rubric: the level chosen per criterion ({criterion id: level id}).
    rubric_levels: Mapped[dict[str, str] | None] = mapped_column(JSON)


class ItemImage(db.Model):  # type: ignore[name-defined]
    """An image an item shows (a hotspot item's picture), stored encrypted; items name it by ``public_id``."""

    __tablename__ = "item_image"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="CASCADE"), index=True)
    blob_id: Mapped[int] = mapped_column(ForeignKey("blob.id"))
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ItemMedia(db.Model):  # type: ignore[name-defined]
    """Audio or video an item plays as its stimulus, stored encrypted; items name it by ``public_id``."""

    __tablename__ = "item_media"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="CASCADE"), index=True)
    blob_id: Mapped[int] = mapped_column(ForeignKey("blob.id"))
    # Decided from the file's first bytes, never from its name (exams.itemmedia.sniff_media).
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class MediaPlay(db.Model):  # type: ignore[name-defined]
    """One play of an item's limited audio or video in an attempt: the ticket its stream needs.

    ``number`` counts the plays of the attempt's item from 1; the unique constraint makes two requests racing
    for the last play end with one play, not two. Only the SHA-256 of the ticket is kept.
    """

    __tablename__ = "media_play"
    __table_args__ = (UniqueConstraint("attempt_id", "question_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)
    ticket_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    bytes_served: Mapped[int] = mapped_column(Integer, default=0)
    byte_budget: Mapped[int] = mapped_column(Integer)


class AnswerFile(db.Model):  # type: ignore[name-defined]
    """A file a candidate handed in for an upload item (PDF or image), stored encrypted; graders download it."""

    __tablename__ = "answer_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[str] = mapped_column(String(64))
    blob_id: Mapped[int] = mapped_column(ForeignKey("blob.id"))
    # Decided from the file's first bytes, never from its name: application/pdf, image/png or image/jpeg.
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    # The file name as the candidate's computer gave it, cut to 200 characters (shown to graders only).
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AttemptEvent(db.Model):  # type: ignore[name-defined]
    """One entry of an attempt's timeline: started, answer saved, reconnect gap, warning, flag, submitted..."""

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AppealStatus(enum.StrEnum):
    """Where an appeal stands; an open appeal holds the attempt's recordings."""

    OPEN = "open"
    UPHELD = "upheld"
    REJECTED = "rejected"


class Appeal(db.Model):  # type: ignore[name-defined]
    """A candidate's appeal against a result, filed within the appeal window, decided by staff with a reason."""

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"), index=True)
    filed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[AppealStatus] = mapped_column(
        Enum(AppealStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=AppealStatus.OPEN,
    )
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    decision_reason: Mapped[str | None] = mapped_column(Text)

    attempt: Mapped[Attempt] = relationship()


class Certificate(db.Model):  # type: ignore[name-defined]
    """A certificate issued on a pass: unguessable public id, signed credential, when sent, revocation.

    It binds what was verified at issue: the holder's name and birth date, how the identity was verified and
    the review, as a snapshot; verification shows the snapshot, never the live profile. An attempt has at most
    one unrevoked certificate (a reissue revokes the old one first).
    """

    __table_args__ = (
        Index("uq_certificate_live_attempt", "attempt_id", unique=True,
              sqlite_where=text("revoked_at IS NULL"), postgresql_where=text("revoked_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"), index=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    credential: Mapped[str] = mapped_column(Text)
    # Sending the certificate releases the attempt's recordings for purge (storage retention), once reviewed.
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    # The snapshot taken at issue (None on certificates issued before snapshots existed).
    holder_name: Mapped[str | None] = mapped_column(String(200))
    holder_birth_date: Mapped[dt.date | None] = mapped_column(Date)
    completed_on: Mapped[dt.date | None] = mapped_column(Date)
    score_percent: Mapped[str | None] = mapped_column(String(8))
    # "automatic", "person" or None (the exam had no identity check).
    identity_method: Mapped[str | None] = mapped_column(String(16))
    identity_verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    supervised: Mapped[bool | None] = mapped_column(Boolean)
    # "clean", "findings" or "not_reviewed" (the institution's policy did not ask for a review).
    review: Mapped[str | None] = mapped_column(String(16))
    # True: taken in Safe Exam Browser with the exam's configuration (every request carried a valid key).
    seb_lockdown: Mapped[bool | None] = mapped_column(Boolean)
    # Open Badges 3.0 form (exams.openbadges): its bit in the issuer's status list, the signed JSON-LD.
    status_index: Mapped[int | None] = mapped_column(Integer, unique=True)
    openbadge: Mapped[str | None] = mapped_column(Text)

    attempt: Mapped[Attempt] = relationship()


def extra_minutes(minutes: int, percent: int, duration_minutes: int) -> int:
    """Whole extra minutes granted: a percentage of the duration is rounded up (never less than granted)."""
    return minutes + -(-duration_minutes * percent // 100)


class ExtraTime(db.Model):  # type: ignore[name-defined]
    """Extra time the exam office grants one candidate in one exam (an accommodation), applied at the start."""

    __table_args__ = (UniqueConstraint("exam_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exam.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    # One of the two is set (the other 0): whole minutes, or a percentage of the exam's duration.
    extra_minutes: Mapped[int] = mapped_column(Integer, default=0)
    extra_percent: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


session_proctor = Table(
    "session_proctor",
    db.metadata,
    Column("session_id", ForeignKey("exam_session.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
)

DEFAULT_CAPACITY_PER_PROCTOR = 15


class ExamSession(db.Model):  # type: ignore[name-defined]
    """One sitting of an exam: a date and time slot (UTC), its proctors, and how many candidates each watches."""

    __tablename__ = "exam_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exam.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime)
    capacity_per_proctor: Mapped[int] = mapped_column(Integer, default=DEFAULT_CAPACITY_PER_PROCTOR)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    exam: Mapped[Exam] = relationship()
    proctors: Mapped[list[User]] = relationship(secondary=session_proctor, order_by="User.id")


class Enrolment(db.Model):  # type: ignore[name-defined]
    """A candidate on an exam's roster: only enrolled candidates see and start the exam (exams.rosters)."""

    __table_args__ = (UniqueConstraint("exam_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exam.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("exam_session.id", ondelete="SET NULL"), index=True)
    proctor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # How many attempts the candidate may start; the exam office raises it to allow another one.
    attempts_allowed: Mapped[int] = mapped_column(Integer, default=1)
    enrolled_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    exam: Mapped[Exam] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    session: Mapped[ExamSession | None] = relationship()
    proctor: Mapped[User | None] = relationship(foreign_keys=[proctor_id])
