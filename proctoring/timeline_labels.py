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

CONTEXT = "review"  # the catalogue's context for these words (short words like "confirmed" differ by page)


def _l(text: str) -> LazyString:
    return lazy_pgettext(CONTEXT, text)


EVENT_LABELS: dict[str, LazyString] = {
    "started": _l("Exam started"),
    "submitted": _l("Submitted"),
    "submitted_at_deadline": _l("Submitted at the deadline"),
    "supervision_started": _l("Supervision of a learning platform's assessment started"),
    "assessment_started": _l("Assessment started at the learning platform"),
    "supervision_ended": _l("Supervision ended by the learning platform"),
    "terminated": _l("Terminated by the proctor"),
    "paused": _l("Paused"),
    "resumed": _l("Resumed"),
    "time_added": _l("Time added"),
    "warning": _l("Warning to the candidate"),
    "flag": _l("Flag raised"),
    "flag_confirmed": _l("Flag confirmed"),
    "flag_dismissed": _l("Flag dismissed"),
    "chat_from_candidate": _l("Chat message from the candidate"),
    "chat_from_proctor": _l("Chat message from the proctor"),
    "call_started": _l("Call with the proctor started"),
    "call_ended": _l("Call with the proctor ended"),
    "call_lost": _l("Call with the proctor lost"),
    "media_connected": _l("Camera and microphone connected"),
    "media_disconnected": _l("Camera and microphone disconnected"),
    "phone_connected": _l("Phone camera connected"),
    "phone_lost": _l("Phone camera stopped"),
    "voice_activity": _l("Voices heard"),
    "recording_failed": _l("Recording interrupted (storage unavailable)"),
    "recording_resumed": _l("Recording resumed"),
    "recording_viewed": _l("Recording opened for review"),
    "tab_hidden": _l("Left the exam tab"),
    "tab_visible": _l("Back in the exam tab"),
    "fullscreen_exit": _l("Left full screen"),
    "copy": _l("Copied text"),
    "paste": _l("Pasted text"),
    "second_screen": _l("Second screen detected"),
    "reviewed": _l("Review saved"),
    "graded": _l("Graded"),
    "file_handed_in": _l("File handed in"),
    "grading_reopened": _l("Grading reopened"),
    "result_released": _l("Result released"),
    "appeal_filed": _l("Appeal filed"),
    "appeal_decided": _l("Appeal decided"),
    "appeal_decision_sent": _l("Appeal decision sent"),
    "certificate_issued": _l("Certificate issued"),
    "certificate_held": _l("Certificate held back"),
    "certificate_sent": _l("Certificate sent"),
    "certificate_requested": _l("Certificate asked for before the appeal window closed (ends the window)"),
    "certificate_revoked": _l("Certificate revoked"),
    "media_back": _l("Camera and microphone back"),
    "camera_lost": _l("Camera lost"),
    "microphone_lost": _l("Microphone lost"),
    "screen_shared": _l("Screen shared"),
    "screen_stopped": _l("Screen sharing stopped"),
    "screen_resumed": _l("Screen shared again"),
    "screen_refused": _l("Window or tab refused (the whole screen is required)"),
    **ROOM_SCAN_EVENT_LABELS,
}

FLAG_LABELS: dict[FlagKind, LazyString] = FLAG_KIND_LABELS
FLAG_STATE_LABELS: dict[FlagStatus, LazyString] = FLAG_STATUS_LABELS


STATUS_LABELS: dict[str, LazyString] = {
    "in_progress": _l("in progress"),
    "submitted": _l("submitted"),
    "terminated": _l("terminated"),
}

OUTCOME_LABELS: dict[str | None, LazyString] = {
    None: _l("not reviewed"),
    "clean": _l("clean: no findings"),
    "findings": _l("findings"),
}


def status_label(status: str) -> str:
    """The words for an attempt's status."""
    return str(STATUS_LABELS.get(str(status), _l("unknown")))


def outcome_label(outcome: str | None) -> str:
    """The words for a review outcome."""
    return str(OUTCOME_LABELS.get(outcome, _l("unknown")))


def event_label(kind: str) -> str:
    """The words for a timeline event kind (an unknown kind, say from a newer engine, reads as "Event")."""
    label = EVENT_LABELS.get(kind)
    return str(label) if label is not None else str(_l("Event"))


def flag_label(kind: FlagKind | str) -> str:
    """The words for a flag kind."""
    try:
        return str(FLAG_LABELS[FlagKind(kind)])
    except (ValueError, KeyError):
        return str(_l("Flag"))


def flag_state_label(status: FlagStatus) -> str:
    """The words for a flag's state."""
    return str(FLAG_STATE_LABELS[status])
