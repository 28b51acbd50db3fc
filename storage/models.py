"""Models of the storage domain: one row per encrypted blob, and purge receipts."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, DateTime, Enum, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from kernel.clock import utcnow
from kernel.db import db


class BlobState(enum.StrEnum):
    """Life of a blob: being written, then complete (closed by its writer) or cut (its writer was gone: finished
    as far as it got, reads back as truncated), then purged (key destroyed, bytes deleted)."""

    WRITING = "writing"
    COMPLETE = "complete"
    CUT = "cut"
    PURGING = "purging"
    PURGED = "purged"


class Blob(db.Model):  # type: ignore[name-defined]
    """An encrypted file: where its ciphertext lives, its wrapped data key, what it belongs to.

    The data key exists only wrapped by a master key; destroying ``wrapped_key`` makes the ciphertext
    unreadable to the live system at once (crypto-shredding). A database backup from before still holds the
    wrapped key: storage/FORMAT.md says when backups forget it.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    # Object key in the backend: random, never derived from user input.
    key: Mapped[str] = mapped_column(String(80), unique=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    state: Mapped[BlobState] = mapped_column(
        Enum(BlobState, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=BlobState.WRITING, index=True,
    )
    master_key_id: Mapped[str | None] = mapped_column(String(32))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    plaintext_size: Mapped[int | None] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id", ondelete="SET NULL"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempt.id", ondelete="SET NULL"), index=True)
    # Set by the owner when the rule's anchor is an event of its own (e.g. the identity decision).
    retain_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Closed (complete), or finished up as far as it got after its writer was gone (cut, vault.finish_cut).
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    purged_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class PurgeReceipt(db.Model):  # type: ignore[name-defined]
    """Proof that a blob was purged: category, whose, when, by which rule. No personal content."""

    id: Mapped[int] = mapped_column(primary_key=True)
    blob_id: Mapped[int] = mapped_column(index=True)
    category: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(200))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id", ondelete="SET NULL"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(index=True)
    purged_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
