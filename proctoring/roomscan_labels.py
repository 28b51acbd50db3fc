"""The room scan's timeline events in words (the review's timeline takes them; German under the context ``review``)."""

from __future__ import annotations

from flask_babel import lazy_pgettext
from flask_babel.speaklater import LazyString


def _l(text: str) -> LazyString:
    return lazy_pgettext("review", text)


ROOM_SCAN_EVENT_LABELS: dict[str, LazyString] = {
    "room_scan_requested": _l("Room scan requested by the proctor"),
    "room_scan_started": _l("Room scan started"),
    "room_scan_step_room": _l("Room scan: the room around shown"),
    "room_scan_step_desk": _l("Room scan: the desk shown"),
    "room_scan_step_floor": _l("Room scan: the floor around the chair shown"),
    "room_scan_step_screen_edges": _l("Room scan: the screen's edges shown"),
    "room_scan_completed": _l("Room scan completed"),
    "room_scan_timed_out": _l("Room scan not completed in time"),
}
