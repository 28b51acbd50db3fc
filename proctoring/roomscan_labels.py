"""The room scan's timeline events in words (the review's timeline takes them; German under the context ``review``)."""

from __future__ import annotations

from flask_babel import lazy_pgettext
from flask_babel.speaklater import LazyString

ROOM_SCAN_EVENT_LABELS: dict[str, LazyString] = {
    "room_scan_requested": lazy_pgettext("review", "Room scan requested by the proctor"),
    "room_scan_started": lazy_pgettext("review", "Room scan started"),
    "room_scan_step_room": lazy_pgettext("review", "Room scan: the room around shown"),
    "room_scan_step_desk": lazy_pgettext("review", "Room scan: the desk shown"),
    "room_scan_step_floor": lazy_pgettext("review", "Room scan: the floor around the chair shown"),
    "room_scan_step_screen_edges": lazy_pgettext("review", "Room scan: the screen's edges shown"),
    "room_scan_completed": lazy_pgettext("review", "Room scan completed"),
    "room_scan_timed_out": lazy_pgettext("review", "Room scan not completed in time"),
}
