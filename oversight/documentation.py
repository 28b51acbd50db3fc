"""The technical documentation and instructions for use (EU AI Act Annex IV, Art. 13), generated from the registry.

``technical_documentation(lang)`` renders the detector registry (``oversight.detectors``) and the oversight
measures as Markdown. A copy per language is committed under ``docs/ai-act/``; a test regenerates it and fails
when a detector, model, version or threshold changed without the committed documentation (regenerate with
``flask oversight document``).
"""

from __future__ import annotations

from pathlib import Path

from flask_babel import force_locale

from oversight.detectors import DETECTORS, OBSERVABLES, PROHIBITED, THRESHOLD_LABELS, Detector
from proctoring.flag_labels import kind_label

LANGS = ("de", "en")
DOCS = Path(__file__).resolve().parent.parent / "docs" / "ai-act"

_W = {
    "title": ("Technische Dokumentation und Gebrauchsanweisung der Prüfungsaufsicht (KI-Verordnung)",
              "Technical documentation and instructions for use of the proctoring (EU AI Act)"),
    "intro": ("aufsicht meldet Auffälligkeiten während einer Prüfung als Hinweise. Ein Hinweis entscheidet nichts: "
              "Eine Person bestätigt oder verwirft ihn, nachdem sie die Aufnahme oder die Bilder seines Zeitraums "
              "gesehen hat. Nichts Automatisches ändert ein Ergebnis, hält ein Zertifikat zurück oder weist eine "
              "Person ab. Die Überwachung während Prüfungen ist ein Hochrisiko-System nach Anhang III Nr. 3 d; der "
              "Gesichtsabgleich bei der Identitätsprüfung ist eine biometrische Verifizierung und wird hier "
              "mitbeschrieben.",
              "aufsicht reports what it notices during an exam as advisory flags. A flag decides nothing: a person "
              "confirms or dismisses it after seeing the recording or the pictures of its span. Nothing automated "
              "changes a result, holds a certificate or refuses a candidate. Monitoring during tests is a high-risk "
              "system under Annex III point 3(d); the face match at the identity check is biometric verification "
              "and is documented alongside."),
    "flags": ("Hinweise", "Flags"), "model": ("Modell", "Model"), "version": ("Version", "Version"),
    "source": ("Quelle", "Source"), "licence": ("Lizenz", "Licence"), "thresholds": ("Schwellen", "Thresholds"),
    "calibrated": ("Kalibriert an", "Calibrated on"), "notices": ("Erkennt", "Notices"),
    "cannot": ("Erkennt nicht", "Cannot notice"), "measured": ("Gemessen", "Measured"),
    "infers": ("Schließt auf", "Infers"),
    "risk": ("Einstufung", "Classification"),
    "high": ("Hochrisiko (Anhang III Nr. 3 d)", "high-risk (Annex III point 3(d))"),
    "verify": ("biometrische Verifizierung (nicht Anhang III)", "biometric verification (not Annex III)"),
    "none": ("keine (nur bei der Identitätsprüfung)", "none (identity check only)"),
    "emotion_h": ("Keine Emotionserkennung (Art. 5 Abs. 1 f)", "No emotion recognition (Art. 5(1)(f))"),
    "emotion": ("Emotionserkennung in der Bildung ist verboten. Jeder Detektor erklärt, worauf er schließt, aus "
                "einem geschlossenen Vokabular beobachtbarer Tatsachen; ein Test schlägt fehl, wenn ein Detektor "
                "auf Gefühle oder Absichten schließt. Erlaubt: {obs}. Verboten: {pro}.",
                "Emotion recognition in education is prohibited. Each detector declares what it infers, from a "
                "closed vocabulary of observable facts; a test fails if any detector infers emotions or "
                "intentions. Allowed: {obs}. Prohibited: {pro}."),
    "oversight_h": ("Menschliche Aufsicht (Art. 14) und Bedienung", "Human oversight (Art. 14) and how to operate it"),
    "oversight": (
        "- Ein Hinweis wird erst bestätigt oder verworfen, nachdem die Aufnahme oder die Bilder seines Zeitraums "
        "geöffnet wurden.\n- Bestätigen verlangt eine Notiz, was gesehen wurde.\n- Das Prüfungsamt kann einen "
        "Hinweistyp für einzelne Personen als Nachteilsausgleich abschalten.\n- Jeder Lauf eines Detektors, der "
        "einen Hinweis auslöste oder sein Ende sah, wird ohne Bild protokolliert (Detektor, Modell, Version, "
        "Schwelle, Zeitraum) und nach sechs Monaten gelöscht.",
        "- A flag is confirmed or dismissed only after the recording or the pictures of its span were opened.\n"
        "- Confirming needs a note of what was seen.\n- The exam office can switch a flag type off per candidate "
        "as an accommodation.\n- Every detector run that raised a flag or saw it end is logged without any image "
        "(detector, model, version, threshold, time span) and deleted after six months."),
}


def _w(key: str, lang: str) -> str:
    de, en = _W[key]
    return de if lang == "de" else en


def _detector(d: Detector, lang: str) -> list[str]:
    def t(x: object) -> str:
        return str(getattr(x, lang))

    with force_locale(lang):
        flags = ", ".join(kind_label(k) for k in d.flag_kinds) or _w("none", lang)
    thresholds = ", ".join(f"{t(THRESHOLD_LABELS[k])} (`{k}`) = {v}" for k, v in d.thresholds.items())
    return [f"### {t(d.name)}", "",
            f"- {_w('risk', lang)}: {_w('high' if d.high_risk else 'verify', lang)}",
            f"- {_w('flags', lang)}: {flags}",
            f"- {_w('model', lang)}: {d.model}", f"- {_w('version', lang)}: {d.version}",
            f"- {_w('source', lang)}: {d.source}", f"- {_w('licence', lang)}: {d.licence}",
            f"- {_w('thresholds', lang)}: {thresholds}",
            f"- {_w('calibrated', lang)}: {t(d.calibrated_on)}",
            f"- {_w('notices', lang)}: {t(d.notices)}", f"- {_w('cannot', lang)}: {t(d.cannot_notice)}",
            f"- {_w('measured', lang)}: {t(d.measured)}",
            f"- {_w('infers', lang)}: {', '.join(sorted(d.infers))}", ""]


def technical_documentation(lang: str = "de") -> str:
    """The technical documentation in ``lang`` (``de`` or ``en``) as Markdown, generated from the registry."""
    lines = [f"# {_w('title', lang)}", "", _w("intro", lang), ""]
    for d in DETECTORS:
        lines += _detector(d, lang)
    lines += [f"## {_w('emotion_h', lang)}", "",
              _w("emotion", lang).format(obs=", ".join(sorted(OBSERVABLES)), pro=", ".join(sorted(PROHIBITED))), "",
              f"## {_w('oversight_h', lang)}", "", _w("oversight", lang), ""]
    return "\n".join(lines)


def committed_path(lang: str) -> Path:
    """Where the committed copy of the documentation in ``lang`` lives."""
    return DOCS / f"technical-documentation.{lang}.md"


def write_documentation() -> list[Path]:
    """Regenerate the committed copies (after a detector, model or threshold changed); returns the paths."""
    DOCS.mkdir(parents=True, exist_ok=True)
    out = []
    for lang in LANGS:
        path = committed_path(lang)
        path.write_text(technical_documentation(lang), encoding="utf-8")
        out.append(path)
    return out
