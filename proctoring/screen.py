"""The candidate's screen in exams that record it: whether it is being shared, from the page's events.

The page reports ``screen_shared``, ``screen_stopped`` (also a flag), ``screen_resumed`` and ``screen_refused``
(a window or a tab was chosen) over the media data channel; they land on the attempt's timeline
(``proctoring.live``). The proctor's tile reads the latest of them.
"""

from __future__ import annotations

from sqlalchemy import select

from exams.models import AttemptEvent
from kernel.db import db

#: What the tile says about the screen: shared, or stopped (the exam is blocked on the candidate's page).
SHARED, STOPPED = "shared", "stopped"
_STATE_OF = {"screen_shared": SHARED, "screen_resumed": SHARED, "screen_stopped": STOPPED}


def screen_states(attempt_ids: list[int]) -> dict[int, str]:
    """Per attempt that has shared its screen at least once: ``"shared"`` or ``"stopped"`` (its latest event)."""
    if not attempt_ids:
        return {}
    rows = db.session.execute(
        select(AttemptEvent.attempt_id, AttemptEvent.kind)
        .where(AttemptEvent.attempt_id.in_(attempt_ids), AttemptEvent.kind.in_(list(_STATE_OF)))
        .order_by(AttemptEvent.at, AttemptEvent.id)).all()
    return {attempt_id: _STATE_OF[kind] for attempt_id, kind in rows}
