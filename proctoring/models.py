"""Models of the proctoring domain: advisory flags and per-candidate accommodations."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kernel.clock import utcnow
from kernel.db import db


class FlagKind(enum.StrEnum):
    """What an automated check noticed. Advisory only: a human decides (GDPR Art. 22)."""

    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    OTHER_PERSON = "other_person"
    TAB_HIDDEN = "tab_hidden"
    FULLSCREEN_EXIT = "fullscreen_exit"
    COPY_PASTE = "copy_paste"
    SECOND_SCREEN = "second_screen"
    VOICE = "voice"
    SCREEN_STOPPED = "screen_stopped"  # the candidate stopped sharing the screen (an exam that records it)
    MEDIA_LOST = "media_lost"  # the candidate's camera or microphone stopped mid-exam
    SEB_KEY_MISSING = "seb_key_missing"  # a request of a SEB attempt without a valid key (another browser)
    ROOM_SCAN_INCOMPLETE = "room_scan_incomplete"  # a room scan not completed within its time limit (roomscan)
    PHONE_LOST = "phone_lost"  # the phone paired as the second camera stopped sending (proctoring.phone)


class FlagStatus(enum.StrEnum):
    """A flag waits for a human, who dismisses or confirms it."""

    OPEN = "open"
    DISMISSED = "dismissed"
    CONFIRMED = "confirmed"


class Flag(db.Model):  # type: ignore[name-defined]
    """An advisory flag on an attempt: a span of time in which a check noticed something."""

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"), index=True)
    kind: Mapped[FlagKind] = mapped_column(
        Enum(FlagKind, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e])
    )
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[FlagStatus] = mapped_column(
        Enum(FlagStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=FlagStatus.OPEN,
    )
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)


class Accommodation(db.Model):  # type: ignore[name-defined]
    """A flag type silenced for one candidate in one exam (e.g. someone who must look away)."""

    __table_args__ = (UniqueConstraint("user_id", "exam_id", "flag_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exam.id", ondelete="CASCADE"))
    flag_kind: Mapped[FlagKind] = mapped_column(
        Enum(FlagKind, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e])
    )
    reason: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SystemCheck(db.Model):  # type: ignore[name-defined]
    """A passed system check: the server saw this candidate's camera and microphone arrive over WebRTC."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exam.id", ondelete="CASCADE"), index=True)
    passed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class MediaAssignment(db.Model):  # type: ignore[name-defined]
    """Which engine holds a media session (only used with remote engines)."""

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    engine_url: Mapped[str] = mapped_column(String(200), index=True)
    assigned_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class RecordingPlayback(db.Model):  # type: ignore[name-defined]
    """The seekable copy (remuxed, not re-encoded) of one recording part, made for the review player."""

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("blob.id", ondelete="CASCADE"), unique=True)
    # The copy: an encrypted blob of category "playback" owned like the part (None when it failed).
    copy_id: Mapped[int | None] = mapped_column(ForeignKey("blob.id", ondelete="SET NULL"))
    # The candidate's screen alone, where the part recorded it (a browser plays only a file's first video
    # track): the review plays it beside the camera, on the same clock.
    screen_copy_id: Mapped[int | None] = mapped_column(ForeignKey("blob.id", ondelete="SET NULL"))
    screen_offset_ms: Mapped[int | None] = mapped_column(Integer)  # where in the part the screen copy begins
    state: Mapped[str] = mapped_column(String(16))  # ready | failed
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # wall time (UTC) of the part's first frame
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(200))
    made_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class EvidenceView(db.Model):  # type: ignore[name-defined]
    """Which stretch of an attempt's evidence a person opened: a recording part (the time it covers) or a snapshot
    (its moment). A flag is decided after the exam only by someone whose views cover the flag's span (EU AI Act
    Art. 14); one row per viewer and file, the first opening."""

    __table_args__ = (UniqueConstraint("viewer_id", "blob_id", name="uq_evidence_view_viewer_blob"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"), index=True)
    viewer_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    blob_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    span_start: Mapped[dt.datetime] = mapped_column(DateTime)
    span_end: Mapped[dt.datetime] = mapped_column(DateTime)


class PhonePairing(db.Model):  # type: ignore[name-defined]
    """A phone paired as the second camera of one candidate's sitting of one exam (proctoring.phone).

    The QR code carries a random token (only its hash is kept): short-lived, single use. Using it issues the
    phone a device credential of its own (hash kept); a later pairing of the same sitting replaces this one."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exam.id", ondelete="CASCADE"))
    # The attempt the phone records into: the one in progress when the code was made, or the one started later.
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    device_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    replaced_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # another phone took over this sitting
