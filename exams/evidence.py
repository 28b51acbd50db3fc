"""When the evidence of an attempt (recording, snapshots, chat) may go: the ``"attempt"`` retention anchor.

Storage purges; this module, owned by the exams domain, says when an attempt's evidence is due, from the
attempt, its review, its appeals and its appeal window. ``register()`` hands the condition to ``storage.retention``.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import ColumnElement, exists

from exams.models import Attempt
from exams.trust import evidence_releasable
from storage import retention
from storage.models import Blob


def backstop() -> dt.timedelta:
    """How long after its end the evidence of a never-released attempt is kept (once any required review is done)."""
    return dt.timedelta(days=int(current_app.config.get("ATTEMPT_MEDIA_MAX_DAYS", 30)))


def backstop_at(attempt: Attempt) -> dt.datetime | None:
    """When the evidence of ``attempt`` would go were its result never released (None: still running)."""
    return attempt.ended_at + backstop() if attempt.ended_at is not None else None


def attempt_media_due(now: dt.datetime) -> ColumnElement[bool]:
    """SQL condition on ``Blob``: its attempt's evidence may be purged now (the rule is ``trust.PURGE``).

    Only when the review the institution's policy requires is done, no appeal is open, and either the appeal
    window of the latest release has ended (``trust.appeal_window``: closed, or ended by the candidate asking for
    the certificate) or, never released, the backstop has passed.
    """
    return exists().where(Attempt.id == Blob.attempt_id, evidence_releasable(now, backstop()))


def register() -> None:
    """Make ``attempt_media_due`` the condition of the ``"attempt"`` retention anchor."""
    retention.register_anchor("attempt", attempt_media_due)
