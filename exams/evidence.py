"""When the evidence of an attempt (recording, snapshots, chat) may go: the ``"attempt"`` retention anchor.

Storage purges; this module, owned by the exams domain, says when an attempt's evidence is due, from the
attempt, its appeals and its certificate. ``register()`` hands the condition to ``storage.retention``.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import ColumnElement, and_, exists, or_

from exams.models import Attempt
from exams.trust import evidence_releasable
from storage import retention
from storage.models import Blob


def attempt_media_due(now: dt.datetime) -> ColumnElement[bool]:
    """SQL condition on ``Blob``: its attempt's evidence may be purged now (the rule is ``trust.PURGE``).

    Only when the review the institution's policy requires is done, no appeal is open, and either the appeal
    window after the latest release has closed or the certificate was sent (after an upheld appeal: only the
    new result's window). Never-released attempts go at the backstop, which a late release moves to the end of
    its own appeal window.
    """
    from privacy.settings import custom_appeal_windows

    cfg = current_app.config
    window = dt.timedelta(days=int(cfg.get("APPEAL_WINDOW_DAYS", 7)))
    backstop = dt.timedelta(days=int(cfg.get("ATTEMPT_MEDIA_MAX_DAYS", 30)))

    def closed(days: dt.timedelta) -> ColumnElement[bool]:
        return and_(Attempt.result_released_at.is_not(None), Attempt.result_released_at <= now - days,
                    Attempt.ended_at <= now - days)

    custom = custom_appeal_windows()  # institutions with their own appeal window
    customised = [i for ids in custom.values() for i in ids]
    default = and_(Blob.institution_id.not_in(customised), closed(window)) if customised else closed(window)
    window_closed = or_(default, *[and_(Blob.institution_id.in_(ids), closed(dt.timedelta(days=d)))
                                   for d, ids in custom.items()])
    return exists().where(Attempt.id == Blob.attempt_id, evidence_releasable(now, window_closed, backstop))


def register() -> None:
    """Make ``attempt_media_due`` the condition of the ``"attempt"`` retention anchor."""
    retention.register_anchor("attempt", attempt_media_due)
