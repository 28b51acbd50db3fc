"""An exam part with one item of every type of exams.itemtypes (shared by the item-type tests)."""

from __future__ import annotations

from typing import Any


def new_type_items(image_id: str = "img_0123456789abcdef") -> list[dict[str, Any]]:
    """One item of each new type, in exam-file layout."""
    return [
        {"id": "gap", "type": "gap_text", "prompt": "Ergänzen Sie.",
         "text": "Ich {{g1}} aus Köln und wohne {{g2}} München.",
         "gaps": [{"id": "g1", "accepted": ["komme"]},
                  {"id": "g2", "options": [{"id": "in", "text": "in", "correct": True},
                                           {"id": "nach", "text": "nach"}]}]},
        {"id": "match", "type": "matching", "prompt": "Was passt zusammen?", "points": 3,
         "premises": [{"id": "p1", "text": "Hund", "match": "dog"}, {"id": "p2", "text": "Katze", "match": "cat"},
                      {"id": "p3", "text": "Maus", "match": "mouse"}],
         "options": [{"id": "cat", "text": "cat"}, {"id": "dog", "text": "dog"}, {"id": "mouse", "text": "mouse"},
                     {"id": "cow", "text": "cow"}]},
        {"id": "order", "type": "ordering", "prompt": "Ordnen Sie die Wochentage.", "points": 3,
         "options": [{"id": "mo", "text": "Montag"}, {"id": "di", "text": "Dienstag"},
                     {"id": "mi", "text": "Mittwoch"}, {"id": "do", "text": "Donnerstag"}]},
        {"id": "short", "type": "short_text", "prompt": "Wo fahren die Züge ab?",
         "accepted": ["Bahnhof", "am Bahnhof"]},
        {"id": "street", "type": "short_text", "prompt": "Wie heißt „street“ auf Deutsch?", "accepted": ["Straße"]},
        {"id": "spot", "type": "hotspot", "prompt": "Klicken Sie auf den Bahnhof.", "image": image_id,
         "image_alt": "Stadtplan mit Bahnhof oben links und Post rechts",
         "areas": [{"shape": "rect", "x": 0, "y": 0, "width": 100, "height": 80, "correct": True},
                   {"shape": "circle", "x": 300, "y": 150, "r": 40, "correct": False}]},
        {"id": "file", "type": "upload", "prompt": "Laden Sie Ihr Formular hoch.", "points": 2},
        {"id": "essay", "type": "essay", "prompt": "Schreiben Sie eine E-Mail.", "min_words": 5, "max_words": 80,
         "rubric": [{"id": "content", "name": "Inhalt", "levels": [{"id": "a1", "label": "A1", "points": 1},
                                                                    {"id": "a2", "label": "A2", "points": 3}]},
                    {"id": "form", "name": "Sprache", "levels": [{"id": "a1", "label": "A1", "points": 0},
                                                                  {"id": "a2", "label": "A2", "points": 2}]}]},
    ]
