"""When the evidence of an attempt (recording, snapshots, chat) may go: the ``"attempt"`` retention anchor.

Storage purges; this module, owned by the exams domain, says when an attempt's evidence is due, from the
attempt, its appeals and its certificate. ``register()`` hands the condition to ``storage.retention``.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import ColumnElement, and_, exists, or_

from exams.models import Appeal, AppealStatus, Attempt, AttemptStatus, Certificate
from storage import retention
from storage.models import Blob


def attempt_media_due(now: dt.datetime) -> ColumnElement[bool]:
    """SQL condition on ``Blob``: its attempt's evidence may be purged now."""
    from privacy.settings import custom_appeal_windows

    cfg = current_app.config
    window = dt.timedelta(days=int(cfg.get("APPEAL_WINDOW_DAYS", 7)))
    backstop = dt.timedelta(days=int(cfg.get("ATTEMPT_MEDIA_MAX_DAYS", 30)))
    open_appeal = exists().where(Appeal.attempt_id == Attempt.id, Appeal.status == AppealStatus.OPEN)
    sent = exists().where(Certificate.attempt_id == Attempt.id, Certificate.sent_at.is_not(None),
                          Certificate.sent_at <= now)

    def closed(days: dt.timedelta) -> ColumnElement[bool]:
        return and_(Attempt.result_released_at.is_not(None), Attempt.result_released_at <= now - days,
                    Attempt.ended_at <= now - days)

    custom = custom_appeal_windows()  # institutions with their own appeal window
    customised = [i for ids in custom.values() for i in ids]
    default = and_(Blob.institution_id.not_in(customised), closed(window)) if customised else closed(window)
    window_closed = or_(default, *[and_(Blob.institution_id.in_(ids), closed(dt.timedelta(days=d)))
                                   for d, ids in custom.items()])
    return exists().where(
        Attempt.id == Blob.attempt_id,
        Attempt.status != AttemptStatus.IN_PROGRESS,
        ~open_appeal,
        or_(sent, window_closed, Attempt.ended_at <= now - backstop),
    )


def register() -> None:
    """Make ``attempt_media_due`` the condition of the ``"attempt"`` retention anchor."""
    retention.register_anchor("attempt", attempt_media_due)
