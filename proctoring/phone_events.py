"""The phone as the second camera during the attempt: its timeline events, the ``phone_lost`` flag and the tile's
state (kept apart from ``proctoring.phone``, which talks to the media engine, so the engine's wiring in
``proctoring.live`` can call it)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from exams.attempts import record_event
from exams.models import Attempt, AttemptEvent, AttemptStatus
from kernel.db import db
from proctoring.models import FlagKind

#: Timeline events of the phone: its camera arrived at the engine, and it went away (also a flag).
CONNECTED, LOST = "phone_connected", "phone_lost"


#: What the phone's page itself may report (over its data channel, or ``POST /phone/events``).
PHONE_PAGE_EVENTS = frozenset({"camera_lost"})


def on_engine_event(app: Flask, attempt_id: int, event: dict[str, Any]) -> bool:
    """An event of an attempt's phone session: the engine's connect and disconnect, or the phone's page saying
    its camera stopped (over the data channel or HTTP: the same meaning). Losing the phone during the attempt
    raises the ``phone_lost`` flag. Returns whether anything was recorded."""
    from kernel.clock import utcnow
    from proctoring.flags import raise_flag

    kind, origin = str(event.get("type", "")), str(event.get("origin", ""))
    lost = (origin == "engine" and kind == "media_disconnected") or (origin == "browser" and kind == "camera_lost")
    connected = origin == "engine" and kind == "media_connected"
    if not (lost or connected):
        return False
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        if attempt is None or attempt.status != AttemptStatus.IN_PROGRESS:
            return False
        now = utcnow()
        if lost:
            raise_flag(attempt, FlagKind.PHONE_LOST, now, source=origin)
        record_event(attempt, LOST if lost else CONNECTED, now)
        db.session.commit()
    return True


def phone_states(attempt_ids: list[int]) -> dict[int, str]:
    """Per attempt whose phone connected at least once: ``"streaming"`` or ``"stopped"`` (its latest event)."""
    if not attempt_ids:
        return {}
    rows = db.session.execute(
        select(AttemptEvent.attempt_id, AttemptEvent.kind)
        .where(AttemptEvent.attempt_id.in_(attempt_ids), AttemptEvent.kind.in_([CONNECTED, LOST]))
        .order_by(AttemptEvent.at, AttemptEvent.id)).all()
    return {attempt_id: "streaming" if kind == CONNECTED else "stopped" for attempt_id, kind in rows}
