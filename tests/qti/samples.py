"""An exam with one item of every type QTI can carry, and a small PNG for its hotspot item."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from exams.questions import ExamSpec
from exams.schema import exam_from_data
from qti.writer import Media
from tests.exams.items_data import new_type_items

IMAGE_ID = "img_0123456789abcdef"


def png(width: int = 400, height: int = 300) -> bytes:
    """A real PNG of the given size."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 220, 240)).save(out, "PNG")
    return out.getvalue()


def exam_data() -> dict[str, Any]:
    """Exam-file data with every item type that maps to QTI."""
    return {
        "title": "Deutsch A2 – QTI", "duration_minutes": 30, "pass_mark_percent": 60,
        "window": {"opens_at": "2026-12-01T08:00:00+01:00", "closes_at": "2026-12-31T20:00:00+01:00"},
        "questions": [
            {"id": "1a", "type": "single_choice", "prompt": "Welche Stadt ist die Hauptstadt?\nBitte wählen.",
             "points": 2, "options": [{"id": "a", "text": "Berlin", "correct": True},
                                      {"id": "2", "text": "Bonn"}]},
            {"id": "multi", "type": "multiple_choice", "prompt": "Welche sind Verben?",
             "options": [{"id": "a", "text": "gehen", "correct": True}, {"id": "b", "text": "Haus"},
                         {"id": "c", "text": "essen", "correct": True}]},
            {"id": "num", "type": "numeric", "prompt": "Wie viel ist 7 / 2?", "answer": 3.5, "tolerance": 0.05},
            {"id": "free", "type": "free_text", "prompt": "Was haben Sie am Wochenende gemacht?"},
            *new_type_items(IMAGE_ID),
            {"id": "order2", "type": "ordering", "prompt": "Zahlen ordnen", "scoring": "all_or_nothing",
             "options": [{"id": "one", "text": "eins"}, {"id": "two", "text": "zwei"},
                         {"id": "three", "text": "drei"}]},
            {"id": "case", "type": "short_text", "prompt": "Schreiben Sie das Nomen groß.", "accepted": ["Haus"],
             "case_sensitive": True},
        ],
    }


def exam() -> ExamSpec:
    """The exam of :func:`exam_data`."""
    return exam_from_data(exam_data())


def media() -> dict[str, Media]:
    """The hotspot item's image."""
    return {IMAGE_ID: Media(png(), "image/png", 400, 300)}
