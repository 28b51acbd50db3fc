"""Words for what the review page shows: timeline event kinds, flag kinds and flag states, in German and English.

Pages never show an event name or an enum value; every value has its label here (a test checks it). The
German words are in the catalogue under the context ``review``.
"""

from __future__ import annotations

from flask_babel import lazy_pgettext
from flask_babel.speaklater import LazyString

from proctoring.flag_labels import FLAG_KIND_LABELS, FLAG_STATUS_LABELS
from proctoring.models import FlagKind, FlagStatus
from proctoring.roomscan_labels import ROOM_SCAN_EVENT_LABELS

# The catalogue's context for these words (short words like "confirmed" differ by page); written out as a literal
# in each call, so that pybabel (and tests/test_catalogue.py) extract each word with its context.
CONTEXT = "review"


EVENT_LABELS: dict[str, LazyString] = {
    "started": lazy_pgettext("review", "Exam started"),
    "submitted": lazy_pgettext("review", "Submitted"),
    "submitted_at_deadline": lazy_pgettext("review", "Submitted at the deadline"),
    "supervision_started": lazy_pgettext("review", "Supervision of a learning platform's assessment started"),
    "assessment_started": lazy_pgettext("review", "Assessment started at the learning platform"),
    "supervision_ended": lazy_pgettext("review", "Supervision ended by the learning platform"),
    "terminated": lazy_pgettext("review", "Terminated by the proctor"),
    "paused": lazy_pgettext("review", "Paused"),
    "resumed": lazy_pgettext("review", "Resumed"),
    "time_added": lazy_pgettext("review", "Time added"),
    "warning": lazy_pgettext("review", "Warning to the candidate"),
    "flag": lazy_pgettext("review", "Flag raised"),
    "flag_confirmed": lazy_pgettext("review", "Flag confirmed"),
    "flag_dismissed": lazy_pgettext("review", "Flag dismissed"),
    "chat_from_candidate": lazy_pgettext("review", "Chat message from the candidate"),
    "chat_from_proctor": lazy_pgettext("review", "Chat message from the proctor"),
    "call_started": lazy_pgettext("review", "Call with the proctor started"),
    "call_ended": lazy_pgettext("review", "Call with the proctor ended"),
    "call_lost": lazy_pgettext("review", "Call with the proctor lost"),
    "media_connected": lazy_pgettext("review", "Camera and microphone connected"),
    "media_disconnected": lazy_pgettext("review", "Camera and microphone disconnected"),
    "phone_connected": lazy_pgettext("review", "Phone camera connected"),
    "phone_lost": lazy_pgettext("review", "Phone camera stopped"),
    "voice_activity": lazy_pgettext("review", "Voices heard"),
    "recording_failed": lazy_pgettext("review", "Recording interrupted (storage unavailable)"),
    "recording_resumed": lazy_pgettext("review", "Recording resumed"),
    "recording_viewed": lazy_pgettext("review", "Recording opened for review"),
    "tab_hidden": lazy_pgettext("review", "Left the exam tab"),
    "tab_visible": lazy_pgettext("review", "Back in the exam tab"),
    "fullscreen_exit": lazy_pgettext("review", "Left full screen"),
    "copy": lazy_pgettext("review", "Copied text"),
    "paste": lazy_pgettext("review", "Pasted text"),
    "second_screen": lazy_pgettext("review", "Second screen detected"),
    "reviewed": lazy_pgettext("review", "Review saved"),
    "graded": lazy_pgettext("review", "Graded"),
    "file_handed_in": lazy_pgettext("review", "File handed in"),
    "spoken_started": lazy_pgettext("review", "Spoken answer: preparation began (the answer follows)"),
    "grading_reopened": lazy_pgettext("review", "Grading reopened"),
    "result_released": lazy_pgettext("review", "Result released"),
    "appeal_filed": lazy_pgettext("review", "Appeal filed"),
    "appeal_decided": lazy_pgettext("review", "Appeal decided"),
    "appeal_decision_sent": lazy_pgettext("review", "Appeal decision sent"),
    "certificate_issued": lazy_pgettext("review", "Certificate issued"),
    "certificate_held": lazy_pgettext("review", "Certificate held back"),
    "certificate_sent": lazy_pgettext("review", "Certificate sent"),
    "certificate_requested": lazy_pgettext(
        "review", "Certificate asked for before the appeal window closed (ends the window)"),
    "certificate_revoked": lazy_pgettext("review", "Certificate revoked"),
    "media_back": lazy_pgettext("review", "Camera and microphone back"),
    "camera_lost": lazy_pgettext("review", "Camera lost"),
    "microphone_lost": lazy_pgettext("review", "Microphone lost"),
    "screen_shared": lazy_pgettext("review", "Screen shared"),
    "screen_stopped": lazy_pgettext("review", "Screen sharing stopped"),
    "screen_resumed": lazy_pgettext("review", "Screen shared again"),
    "screen_refused": lazy_pgettext("review", "Window or tab refused (the whole screen is required)"),
    **ROOM_SCAN_EVENT_LABELS,
}

FLAG_LABELS: dict[FlagKind, LazyString] = FLAG_KIND_LABELS
FLAG_STATE_LABELS: dict[FlagStatus, LazyString] = FLAG_STATUS_LABELS


STATUS_LABELS: dict[str, LazyString] = {
    "in_progress": lazy_pgettext("review", "in progress"),
    "submitted": lazy_pgettext("review", "submitted"),
    "terminated": lazy_pgettext("review", "terminated"),
}

OUTCOME_LABELS: dict[str | None, LazyString] = {
    None: lazy_pgettext("review", "not reviewed"),
    "clean": lazy_pgettext("review", "clean: no findings"),
    "findings": lazy_pgettext("review", "findings"),
}


def status_label(status: str) -> str:
    """The words for an attempt's status."""
    return str(STATUS_LABELS.get(str(status), lazy_pgettext("review", "unknown")))


def outcome_label(outcome: str | None) -> str:
    """The words for a review outcome."""
    return str(OUTCOME_LABELS.get(outcome, lazy_pgettext("review", "unknown")))


def event_label(kind: str) -> str:
    """The words for a timeline event kind (an unknown kind, say from a newer engine, reads as "Event")."""
    label = EVENT_LABELS.get(kind)
    return str(label) if label is not None else str(lazy_pgettext("review", "Event"))


def flag_label(kind: FlagKind | str) -> str:
    """The words for a flag kind."""
    try:
        return str(FLAG_LABELS[FlagKind(kind)])
    except (ValueError, KeyError):
        return str(lazy_pgettext("review", "Flag"))


def flag_state_label(status: FlagStatus) -> str:
    """The words for a flag's state."""
    return str(FLAG_STATE_LABELS[status])
