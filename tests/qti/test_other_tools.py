"""Packages written by other tools come in: text2qti (QTI 1.2 for Canvas) and qti-package-maker (QTI 2.1 and 1.2);
what has no place in aufsicht is named item by item and nothing is imported (tests/data/qti/tools/NOTICE.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from exams.attempts import exam_spec
from exams.models import Exam
from exams.questions import grade
from kernel.db import db
from qti.reader import read_package
from qti.services import QtiImportError, import_exam_package

TOOLS = Path(__file__).resolve().parent.parent / "data" / "qti" / "tools"


def _read(name: str):  # type: ignore[no-untyped-def]
    return read_package((TOOLS / name).read_bytes())


def test_qti_package_maker_qti21_every_item_comes_in() -> None:
    result = _read("qti-package-maker/qti21-aufsicht_sample.zip")
    assert result.problems == [] and result.version == "2.1" and result.title == "aufsicht_sample"
    assert [q["type"] for q in result.questions] == ["single_choice", "multiple_choice", "matching", "numeric",
                                                     "short_text", "ordering"]
    matching = result.questions[2]
    assert [(p["text"], p["match"]) for p in matching["premises"]] == [("Hund", "choice_001"), ("Katze", "choice_002")]
    assert result.questions[3]["answer"] == 3.5 and result.questions[3]["tolerance"] == 0.1
    assert result.questions[5]["scoring"] == "all_or_nothing"  # match_correct in the source: no partial credit


def test_text2qti_every_item_comes_in_and_scores(app, make_institution) -> None:
    exam = import_exam_package(make_institution(), None, (TOOLS / "text2qti/deutsch-a2.zip").read_bytes())
    assert exam.title == "Deutsch A2 Probe"
    spec = exam_spec(exam)
    assert [q.kind.value for q in spec.questions] == ["single_choice", "multiple_choice", "numeric", "short_text",
                                                      "essay", "upload"]
    first = spec.questions[0]
    assert first.points == 2 and first.prompt == "Welche Stadt ist die Hauptstadt von Deutschland?"
    berlin = next(o.id for o in first.options if o.text == "Berlin")
    assert grade(first, berlin).points == 2
    assert grade(spec.questions[2], "3,54").points == 1 and grade(spec.questions[2], "3,6").points == 0
    assert grade(spec.questions[3], "am bahnhof").points == 1
    verbs = [o.id for o in spec.questions[1].options if o.text in ("gehen", "essen")]
    assert grade(spec.questions[1], verbs).points == 1 and grade(spec.questions[1], verbs[:1]).points == 0


def test_a_canvas_matching_item_is_named_and_nothing_comes_in(app, make_institution) -> None:
    data = (TOOLS / "qti-package-maker/qti12-aufsicht_sample.zip").read_bytes()
    result = read_package(data)
    assert len(result.questions) == 4
    assert len(result.problems) == 1 and "#3" in result.problems[0].item
    assert "matching" in result.problems[0].message  # in German here: the app's default language
    with pytest.raises(QtiImportError) as raised:
        import_exam_package(make_institution(), None, data)
    assert raised.value.problems == result.problems
    assert db.session.scalars(select(Exam)).all() == []
