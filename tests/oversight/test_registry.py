"""The detector registry: every flag kind documented, no emotion recognition, documentation in step with the code."""

from __future__ import annotations

import dataclasses

import pytest

from oversight import documentation
from oversight.detectors import DETECTORS, THRESHOLD_LABELS, Detector, detector_for, prohibited_inferences
from privacy.inventory import T
from proctoring.models import FlagKind


def test_every_flag_kind_has_exactly_one_detector():
    for kind in FlagKind:
        owners = [d.key for d in DETECTORS if kind in d.flag_kinds]
        assert len(owners) == 1, f"{kind} is raised by {owners or 'no documented detector'}"
        assert detector_for(kind).key == owners[0]


def test_every_detector_says_what_it_is_and_what_it_cannot_notice():
    for d in DETECTORS:
        assert d.model and d.version and d.source and d.licence and d.thresholds, d.key
        for text in (d.name, d.calibrated_on, d.notices, d.cannot_notice):
            assert text.de.strip() and text.en.strip(), d.key
        for name in d.thresholds:
            assert name in THRESHOLD_LABELS, f"{d.key}: threshold {name} has no words"


def test_no_detector_infers_emotions_or_intentions():
    """Art. 5(1)(f): emotion recognition in education is prohibited."""
    assert prohibited_inferences() == {}


@pytest.mark.parametrize("inferred", ["emotion", "intention", "stress", "wellbeing"])
def test_the_rule_catches_a_detector_that_reads_a_person(inferred):
    """An inner state, named or not in the prohibited list, is not an observable fact: the rule names it."""
    reader = dataclasses.replace(DETECTORS[0], key="gaze", infers=frozenset({"face_present", inferred}))
    assert prohibited_inferences((*DETECTORS, reader)) == {"gaze": {inferred}}


def test_the_documentation_gives_the_reason_for_no_emotion_recognition(app):
    with app.app_context():
        assert "Art. 5(1)(f)" in documentation.technical_documentation("en")
        assert "Emotionserkennung in der Bildung ist verboten" in documentation.technical_documentation("de")


@pytest.mark.parametrize("lang", documentation.LANGS)
def test_committed_documentation_is_in_step_with_the_code(app, lang):
    """Fails when a detector, model, version or threshold changed: run ``flask oversight document``."""
    with app.app_context():
        generated = documentation.technical_documentation(lang)
    committed = documentation.committed_path(lang).read_text(encoding="utf-8")
    assert committed == generated, "docs/ai-act is out of step with the detectors: run `flask oversight document`"


@pytest.mark.parametrize("change", [
    {"thresholds": {"window_seconds": 5.0, "active_dbov": 50, "min_active_share": 0.6, "min_spread_db": 4.0}},
    {"version": "a newer model"},
    {"model": "another model"},
])
def test_a_changed_detector_puts_the_documentation_out_of_step(app, monkeypatch, change):
    with app.app_context():
        before = documentation.technical_documentation("en")
        changed = tuple(dataclasses.replace(d, **change) if d.key == "voice" else d for d in DETECTORS)
        monkeypatch.setattr(documentation, "DETECTORS", changed)
        assert documentation.technical_documentation("en") != before


def test_a_new_detector_puts_the_documentation_out_of_step(app, monkeypatch):
    with app.app_context():
        before = documentation.technical_documentation("en")
        new = Detector("gaze", T("Blick", "Gaze"), (), True, "m", "1", "s", "l", {"window_seconds": 1}, T("a", "a"),
                       T("b", "b"), T("c", "c"), frozenset({"face_present"}))
        monkeypatch.setattr(documentation, "DETECTORS", (*DETECTORS, new))
        assert documentation.technical_documentation("en") != before
