"""Models of the oversight domain: the detector-run log (EU AI Act Art. 12, 19, 26(6))."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kernel.clock import utcnow
from kernel.db import db


class DetectorRun(db.Model):  # type: ignore[name-defined]
    """A detector run that raised or cleared a flag: which detector, model and version, at which thresholds, over
    which span.

    Pseudonymised: the attempt's number is the only link to a person; no name, no image, no sound. Kept at least
    six months (``AIACT_LOG_RETENTION_DAYS``), then deleted by the row retention job; recordings keep their own rule.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"), index=True)
    flag_id: Mapped[int | None] = mapped_column(ForeignKey("flag.id", ondelete="SET NULL"), index=True)
    detector: Mapped[str] = mapped_column(String(40))
    flag_kind: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(200))
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    measure: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # numbers only (a distance, a count)
    outcome: Mapped[str] = mapped_column(String(16))  # raised | cleared (a run that saw the condition end)
    span_start: Mapped[dt.datetime] = mapped_column(DateTime)
    span_end: Mapped[dt.datetime] = mapped_column(DateTime)
