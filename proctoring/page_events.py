"""What an event of the candidate's page or of the media engine means: a timeline entry, an advisory flag, or
both. One meaning for every way an event arrives: the WebRTC data channel (``proctoring.live``, on aiortc) and
the HTTP endpoint of the exam page (``POST /api/attempts/<id>/events``, on every plane).

The time of an entry and of a flag is always the server's (``now``, when the event arrived): what the page says
about its own clock is never used, so a forged time cannot place or backdate anything.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from exams.attempts import record_event
from exams.models import Attempt, AttemptStatus
from kernel.db import db
from proctoring.flags import raise_flag
from proctoring.models import FlagKind

# Browser events that raise an advisory flag (the rest only go on the timeline).
EVENT_FLAGS = {"tab_hidden": "tab_hidden", "fullscreen_exit": "fullscreen_exit", "copy": "copy_paste",
               "paste": "copy_paste", "second_screen": "second_screen", "voice_activity": "voice",
               "screen_stopped": "screen_stopped", "camera_lost": "media_lost", "microphone_lost": "media_lost"}
# The screen's own events (exams that record it): shared, stopped (a flag), shared again, a window or tab refused.
SCREEN_EVENTS = {"screen_shared", "screen_stopped", "screen_resumed", "screen_refused"}
# Who may report what: the browser (data channel or HTTP), or the engine itself.
TIMELINE_EVENTS = {"browser": {"tab_hidden", "tab_visible", "fullscreen_exit", "copy", "paste", "second_screen",
                               "camera_lost", "microphone_lost", "media_back", *SCREEN_EVENTS},
                   "engine": {"media_connected", "media_disconnected", "voice_activity", "recording_failed",
                              "recording_resumed", "call_lost"}}
#: The page's events the HTTP endpoint takes (the same allow-list as the data channel's).
PAGE_EVENTS = frozenset(TIMELINE_EVENTS["browser"])


def reportable(event: dict[str, Any], origin: str) -> bool:
    """Whether ``origin`` may report the kind of ``event`` at all (checked before any database work)."""
    kind = event.get("type")
    return isinstance(kind, str) and kind in TIMELINE_EVENTS.get(origin, set())


def apply_event(attempt: Attempt, event: dict[str, Any], origin: str, now: dt.datetime) -> bool:
    """Record one event of ``origin`` (``"browser"`` or ``"engine"``) for a running attempt at the server's time
    ``now``: its timeline entry and, for the kinds in ``EVENT_FLAGS``, its flag. Returns False (nothing stored)
    for a kind ``origin`` may not report or an attempt that is not running; commits."""
    if not reportable(event, origin) or attempt.status != AttemptStatus.IN_PROGRESS:
        return False
    kind = str(event["type"])
    if kind == "call_lost":  # the proctor's connection ended without "Hang up" (a closed tab, a lost network)
        from proctoring.actions import call_lost

        call_lost(attempt, now)
        return True
    # The recording part and the gap come from the engine only: the page cannot claim them.
    detail: dict[str, Any] = {k: v for k, v in event.items()
                              if origin == "engine" and k in ("part", "gap_seconds")
                              and isinstance(v, int | float) and not isinstance(v, bool)}
    if event.get("surface") in ("window", "browser", "unknown"):  # what a refused screen share chose
        detail["surface"] = event["surface"]
    if kind in EVENT_FLAGS:
        # Which device was lost (camera or microphone) is what the proctor needs to know about a media_lost flag.
        device = {"device": kind.removesuffix("_lost")} if kind.endswith("_lost") else {}
        raise_flag(attempt, FlagKind(EVENT_FLAGS[kind]), now, source="audio" if origin == "engine" else origin,
                   **device)
    if kind not in EVENT_FLAGS or kind in SCREEN_EVENTS:  # the screen's state is read from its own events
        record_event(attempt, kind, now, **detail)
        db.session.commit()
    return True
