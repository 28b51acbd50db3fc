"""Words for the values pages show: one table per kind of value, German and English.

Pages never show an enum value, an event name, a boolean or a code; they write
``{{ value|label("attempt_status") }}``. A value missing from its table is shown as a dash
(and ``tests/test_labels.py`` fails for every enum value without a label).
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from privacy.inventory import receipt_rule
from proctoring.flag_labels import DEVICE_LOST_LABELS, FLAG_KIND_LABELS, FLAG_STATUS_LABELS
from proctoring.timeline_labels import EVENT_LABELS

LABELS: dict[str, dict[str, LazyString]] = {
    "attempt_status": {"in_progress": _l("in progress"), "submitted": _l("submitted"),
                       "terminated": _l("terminated by the proctor")},
    "question_kind": {"single_choice": _l("single choice"), "multiple_choice": _l("multiple choice"),
                      "numeric": _l("numeric answer"), "free_text": _l("free text"),
                      "oral": _l("oral answer"), "gap_text": _l("gap text"), "matching": _l("matching"),
                      "ordering": _l("ordering"), "short_text": _l("short text"), "hotspot": _l("hotspot on an image"),
                      "upload": _l("file upload"), "essay": _l("essay"),
                      "spoken": _l("spoken answer")},
    "item_warning": {"negative_discrimination": _l("negative discrimination: strong candidates score worse here"),
                     "option_unchosen": _l("an option nobody chose")},
    "appeal_status": {"open": _l("open"), "upheld": _l("upheld"), "rejected": _l("rejected")},
    "flag_kind": {**{k.value: v for k, v in FLAG_KIND_LABELS.items()},
                  **{f"{device}_lost": v for device, v in DEVICE_LOST_LABELS.items()}},
    "flag_status": {k.value: v for k, v in FLAG_STATUS_LABELS.items()},
    "review_outcome": {"clean": _l("no findings"), "findings": _l("findings")},
    "auto_decision": {"match": _l("same person"), "no_match": _l("another person"), "review": _l("doubtful"),
                      "unusable": _l("photo not usable")},
    "salutation": {"ms": _l("Ms"), "mr": _l("Mr"), "mx": _l("Mx (neutral)"), "none": _l("No salutation")},
    "gender": {"female": _l("female"), "male": _l("male"), "diverse": _l("diverse")},
    "country": {"DE": _l("Germany"), "AT": _l("Austria"), "CH": _l("Switzerland"), "FR": _l("France"),
                "IT": _l("Italy"), "NL": _l("Netherlands"), "BE": _l("Belgium"), "LU": _l("Luxembourg"),
                "PL": _l("Poland"), "ES": _l("Spain"), "DK": _l("Denmark"), "CZ": _l("Czechia"),
                "D": _l("Germany")},
    "blob_category": {"recording": _l("recording"), "snapshot": _l("snapshot"), "chat": _l("chat messages"),
                      "face_template": _l("face template"), "id_image": _l("ID photo or selfie"),
                      "export": _l("data export"), "playback": _l("recording prepared for playback"),
                      "answer_file": _l("file handed in as an answer"),
                      "phone_recording": _l("recording of the second camera (phone)")},
    "role": {"candidate": _l("candidate"), "proctor": _l("proctor"), "staff": _l("exam office"),
             "admin": _l("administrator")},
    "account_action": {"locked": _l("locked"), "unlocked": _l("unlocked"),
                       "second_factor_reset": _l("second factor reset"), "role_changed": _l("role changed")},
    "boolean": {"True": _l("yes"), "False": _l("no")},
    # "Who opened my files" (privacy.rights.Access): what was opened, and why as the code recorded it.
    "access_what": {"recording": _l("recording"), "snapshot": _l("webcam snapshots"), "chat": _l("chat messages"),
                    "id_image": _l("photo of the ID document"), "selfie": _l("selfie"),
                    "results": _l("exam result (results file or API)")},
    "access_why": {"results file downloaded by the exam office": _l("results file downloaded by the exam office"),
                   "results read by the institution's system (API)": _l("results read by the institution's system "
                                                                        "(API)"),
                   "review of the exam attempt": _l("review of the exam attempt"),
                   "supervision and review of the exam attempt": _l("supervision and review of the exam attempt"),
                   "identity review": _l("review of the identity check")},
    # Results out (results/): the results file, API tokens, webhooks.
    "passed": {"True": _l("passed"), "False": _l("not passed")},
    "identity_method": {"automatic": _l("automatically (face match)"), "person": _l("by a person"),
                        "not_checked": _l("no identity check")},
    "review": {"clean": _l("no findings"), "findings": _l("findings"), "not_reviewed": _l("not reviewed")},
    "token_scope": {"results:read": _l("read results"), "rosters:manage": _l("manage rosters")},
    "webhook_event": {"result.released": _l("result released"), "certificate.issued": _l("certificate issued"),
                      "certificate.revoked": _l("certificate revoked"), "appeal.decided": _l("appeal decided")},
    "delivery_status": {"pending": _l("waiting for the next try"), "delivered": _l("delivered"),
                        "failed": _l("failed (given up)")},
    "exam_state": {"scheduled": _l("scheduled"), "running": _l("running"),
                   "in_progress": _l("taking it now"), "to_grade": _l("to grade"),
                   "to_release": _l("to release"), "appeals_open": _l("appeals open"), "done": _l("done"),
                   "closed": _l("closed")},
    "event": {
        "started": _l("started"), "submitted": _l("submitted"),
        "submitted_at_deadline": _l("submitted at the deadline"),
        "terminated": _l("terminated by the proctor"), "paused": _l("paused by the proctor"), "resumed": _l("resumed"),
        "warning": _l("warning from the proctor"), "time_added": _l("time added"), "proctor_note": _l("proctor's note"),
        "flag": _l("flag raised"), "graded": _l("points given"), "file_handed_in": _l("file handed in"),
        "media_played": _l("recording played (limited plays)"),
        "spoken_started": _l("spoken answer started"), "grading_reopened": _l("grading reopened"),
        "reviewed": _l("session reviewed"), "recording_viewed": _l("recording viewed"),
        "result_released": _l("result released"), "appeal_filed": _l("appeal filed"),
        "appeal_decided": _l("appeal decided"), "appeal_decision_sent": _l("appeal decision sent"),
        "certificate_issued": _l("certificate issued"), "certificate_sent": _l("certificate sent"),
        "certificate_held": _l("certificate held"), "certificate_revoked": _l("certificate revoked"),
        "chat_from_candidate": _l("message from the candidate"), "chat_from_proctor": _l("message from the proctor"),
        "tab_hidden": _l("left the exam tab"), "tab_visible": _l("back in the exam tab"),
        "fullscreen_exit": _l("left full screen"), "copy": _l("copied text"), "paste": _l("pasted text"),
        "second_screen": _l("second screen"), "media_connected": _l("camera and microphone connected"),
        "media_disconnected": _l("camera and microphone disconnected"), "voice_activity": _l("voices heard"),
        "recording_failed": _l("recording failed"), "recording_resumed": _l("recording resumed"),
    },
}
# Timeline events this table has no words of its own for take the review's (proctoring/timeline_labels.py).
LABELS["event"] = {**EVENT_LABELS, **LABELS["event"]}

#: Units written out ("ms" is not a word on a German page).
UNITS: dict[str, LazyString] = {"ms": _l("milliseconds"), "s": _l("seconds"), "min": _l("minutes")}


def label(value: Any, table: str) -> str:
    """The words for ``value`` (an enum, a code, a boolean) from the named table; a dash when unknown."""
    if value is None:
        return "–"
    key = str(value) if isinstance(value, bool) else str(getattr(value, "value", value))
    found = LABELS[table].get(key)
    return str(found) if found is not None else "–"


def unit(name: str) -> str:
    """A unit written out in the reader's language."""
    found = UNITS.get(name)
    return str(found) if found is not None else name


def choices(table: str) -> list[tuple[str, str]]:
    """Every value of a table with its words, for a select (the ISO code "D" of German passports left out)."""
    return [(key, str(text)) for key, text in LABELS[table].items() if not (table == "country" and key == "D")]


def register_labels(app: Flask) -> None:
    """Make ``label`` and ``unit`` Jinja filters and ``choices`` a global."""
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["unit"] = unit
    app.jinja_env.globals["receipt_rule"] = receipt_rule
    app.jinja_env.globals["choices"] = choices
