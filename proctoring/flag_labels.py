"""Words for flag types and flag states, in the reader's language (pages never show the raw values).

The one table of them: the review's timeline (proctoring/timeline_labels.py) and the ``|label`` filter
(app/labels.py) take theirs from here."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from proctoring.models import Flag, FlagKind, FlagStatus

FLAG_KIND_LABELS: dict[FlagKind, LazyString] = {
    FlagKind.NO_FACE: _l("No face in the picture"),
    FlagKind.MULTIPLE_FACES: _l("More than one face"),
    FlagKind.OTHER_PERSON: _l("Possibly another person"),
    FlagKind.TAB_HIDDEN: _l("Left the exam tab"),
    FlagKind.FULLSCREEN_EXIT: _l("Left fullscreen"),
    FlagKind.COPY_PASTE: _l("Copied or pasted"),
    FlagKind.SECOND_SCREEN: _l("Second screen"),
    FlagKind.VOICE: _l("Speech heard"),
    FlagKind.MEDIA_LOST: _l("Camera or microphone lost"),
    FlagKind.SCREEN_STOPPED: _l("Stopped sharing the screen"),
    FlagKind.SEB_KEY_MISSING: _l("Exam opened outside Safe Exam Browser"),
    FlagKind.ROOM_SCAN_INCOMPLETE: _l("Room scan not completed in time"),
    FlagKind.PHONE_LOST: _l("Phone camera stopped"),
}

# A lost device says which one (the browser reports camera_lost or microphone_lost).
DEVICE_LOST_LABELS: dict[str, LazyString] = {
    "camera": _l("Camera lost"),
    "microphone": _l("Microphone lost"),
    "window": _l("Supervision window closed"),  # a platform assessment's supervision window (lti)
}

FLAG_STATUS_LABELS: dict[FlagStatus, LazyString] = {
    FlagStatus.OPEN: _l("open"),
    FlagStatus.DISMISSED: _l("dismissed"),
    FlagStatus.CONFIRMED: _l("confirmed"),
}


def kind_label(kind: FlagKind | str) -> str:
    """The flag type in words."""
    return str(FLAG_KIND_LABELS[FlagKind(kind)])


def status_label(status: FlagStatus | str) -> str:
    """The flag state in words."""
    return str(FLAG_STATUS_LABELS[FlagStatus(status)])


def flag_label(flag: Flag) -> str:
    """The flag in words, as precise as its detail allows (which device was lost)."""
    if flag.kind == FlagKind.MEDIA_LOST and (flag.detail or {}).get("device") in DEVICE_LOST_LABELS:
        return str(DEVICE_LOST_LABELS[flag.detail["device"]])
    return kind_label(flag.kind)
