"""The fundamental-rights impact assessment (EU AI Act Art. 27) of one exam, prefilled from its settings.

Public bodies that deploy a high-risk system assess its impact before first use. The template follows Art. 27(1)
(a)-(f) and fills in what the exam's settings already say: which detectors run, whether the screen is recorded,
how long recordings are kept, how many candidates it concerns; what only the institution can judge is left
marked for it to complete. Exported as Markdown (German or English).
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from exams.models import Attempt, Exam
from kernel.db import db
from oversight.detectors import DETECTORS, Detector
from privacy.settings import appeal_window_days

_TODO = {"de": "_(von der Einrichtung auszufüllen)_", "en": "_(to be completed by the institution)_"}
_W = {
    "title": ("Grundrechte-Folgenabschätzung (KI-Verordnung Art. 27)", "Fundamental-rights impact assessment "
              "(EU AI Act Art. 27)"),
    "a": ("a) Verfahren, in dem das System eingesetzt wird", "(a) The process in which the system is used"),
    "a_text": ("Beaufsichtigte Online-Prüfung „{title}“. Automatische Prüfungen melden Auffälligkeiten als "
               "Hinweise; Menschen entscheiden.", "Proctored online exam \u201c{title}\u201d. Automated checks report "
               "what they notice as flags; people decide."),
    "b": ("b) Zeitraum und Häufigkeit", "(b) Period and frequency"),
    "b_text": ("Geöffnet {opens} bis {closes} (UTC), {minutes} Minuten je Versuch; die Prüfungen laufen während "
               "des ganzen Versuchs.", "Open {opens} to {closes} (UTC), {minutes} minutes per attempt; the checks "
               "run throughout the attempt."),
    "c": ("c) Betroffene Personen", "(c) Persons affected"),
    "c_text": ("Die Prüflinge dieser Prüfung (bisher {n} Versuche).", "The candidates of this exam ({n} attempts "
               "so far)."),
    "d": ("d) Risiken für die Betroffenen", "(d) Risks of harm to the persons affected"),
    "detectors": ("Eingesetzte Prüfungen", "Checks in use"),
    "cannot": ("kann nicht erkennen", "cannot notice"),
    "screen": ("Bildschirmaufnahme", "Screen recording"), "yes": ("ja", "yes"), "no": ("nein", "no"),
    "room": ("Raumschwenk und zweite Kamera", "Room scan and second camera"),
    "room_text": ("in dieser Version nicht angeboten", "not offered in this version"),
    "keep": ("Aufbewahrung der Aufnahmen", "Keeping of recordings"),
    "keep_text": ("bis zur Freigabe, der geforderten Durchsicht und dem Ende der Widerspruchsfrist ({days} Tage); "
                  "Protokoll der Prüfungen {log} Tage, ohne Bild", "until release, the required review and the end "
                  "of the appeal window ({days} days); log of the checks {log} days, without any image"),
    "e": ("e) Menschliche Aufsicht", "(e) Human oversight"),
    "e_text": ("Ein Hinweis entscheidet nichts. Nach der Prüfung entscheidet über einen Hinweis nur, wer die "
               "Aufnahme oder Bilder geöffnet hat; die Seite „KI-Aufsicht“ zeigt Bestätigungsquoten, Zeiten und "
               "Entscheidungen ohne geöffnete Aufnahme.", "A flag decides nothing. After the exam a flag is "
               "decided only by someone who opened the recording or pictures; the \u201cAI oversight\u201d page shows "
               "confirmation rates, times and decisions taken without the evidence opened."),
    "f": ("f) Maßnahmen, wenn Risiken eintreten", "(f) Measures if risks materialise"),
    "f_text": ("Widerspruch gegen das Ergebnis; Abschalten einer Hinweisart für einzelne Personen als "
               "Nachteilsausgleich; Beschwerde bei der Aufsichtsbehörde.", "Appeal against the result; switching "
               "a flag kind off for a person as an accommodation; complaint to the supervisory authority."),
}


def _w(key: str, lang: str) -> str:
    de, en = _W[key]
    return de if lang == "de" else en


def detectors_in_use(exam: Exam) -> list[Detector]:
    """The detectors that run in this exam, from its settings."""
    out = []
    for d in DETECTORS:
        if d.key in ("face_match_idcheck", "liveness"):
            if exam.identity_check_required:
                out.append(d)
        elif d.key in ("face_presence", "face_count", "face_match_live"):
            if exam.proctoring_required and current_app.config.get("PROCTORING_FACE_FLAGS", True) and (
                    d.key != "face_match_live" or exam.identity_check_required):
                out.append(d)
        elif d.key == "room_scan":  # only where the exam asks for room scans
            if exam.proctoring_required and exam.room_scan_required:
                out.append(d)
        elif d.key == "phone_camera":  # the phone as the second camera (proctoring.phone)
            if exam.proctoring_required and exam.second_camera:
                out.append(d)
        elif exam.proctoring_required:
            out.append(d)
    return out


def impact_assessment(exam: Exam, lang: str = "de") -> str:
    """The exam's impact assessment template in ``lang`` (``de`` or ``en``) as Markdown, prefilled."""
    n = db.session.scalar(select(func.count()).select_from(Attempt).where(Attempt.exam_id == exam.id)) or 0
    lines = [f"# {_w('title', lang)}: {exam.title}", "",
             f"## {_w('a', lang)}", "", _w("a_text", lang).format(title=exam.title), "", _TODO[lang], "",
             f"## {_w('b', lang)}", "", _w("b_text", lang).format(
                 opens=f"{exam.opens_at:%Y-%m-%d %H:%M}", closes=f"{exam.closes_at:%Y-%m-%d %H:%M}",
                 minutes=exam.duration_minutes), "",
             f"## {_w('c', lang)}", "", _w("c_text", lang).format(n=n), "", _TODO[lang], "",
             f"## {_w('d', lang)}", "", f"{_w('detectors', lang)}:", ""]
    for d in detectors_in_use(exam):
        lines.append(f"- {getattr(d.name, lang)}: {_w('cannot', lang)}: {getattr(d.cannot_notice, lang)}")
    lines += ["", f"- {_w('screen', lang)}: {_w('yes' if exam.screen_capture else 'no', lang)}",
              f"- {_w('room', lang)}: {_w('room_text', lang)}",
              f"- {_w('keep', lang)}: " + _w("keep_text", lang).format(
                  days=appeal_window_days(exam.institution_id),
                  log=int(current_app.config["AIACT_LOG_RETENTION_DAYS"])), "", _TODO[lang], "",
              f"## {_w('e', lang)}", "", _w("e_text", lang), "",
              f"## {_w('f', lang)}", "", _w("f_text", lang), "", _TODO[lang], ""]
    return "\n".join(lines)
