"""QTI 3.0 export and import give back the same exam, item type by item type; foreign items are named."""

from __future__ import annotations

import dataclasses
import io
import zipfile

import pytest

from exams.questions import QuestionKind, grade
from exams.schema import exam_from_data, exam_to_data
from qti.reader import read_package
from qti.writer import export_package
from tests.qti.samples import exam, exam_data, media


def _back(package: bytes) -> list:
    result = read_package(package)
    assert result.problems == []
    data = exam_data()
    data["questions"] = result.questions
    return list(exam_from_data(data).questions)


def test_every_item_type_comes_back_unchanged() -> None:
    spec = exam()
    result = export_package(spec, media())
    assert result.skipped == []
    back = _back(result.package)
    assert [q.kind for q in back] == [q.kind for q in spec.questions]
    assert len({q.kind for q in back}) == len(QuestionKind) - 2  # every type but oral and spoken
    for before, after in zip(spec.questions, back, strict=True):
        if after.kind is QuestionKind.HOTSPOT:
            assert after.image != before.image  # stored anew under a fresh id
            after = dataclasses.replace(after, image=before.image)
        assert after == before


def test_the_package_holds_manifest_items_test_and_image() -> None:
    names = zipfile.ZipFile(io.BytesIO(export_package(exam(), media()).package)).namelist()
    assert names[0] == "imsmanifest.xml"
    assert "tests/test.xml" in names and "media/img_0123456789abcdef.png" in names
    assert "items/ID-1a.xml" in names  # an id that starts with a digit is made an XML name, and read back


def test_oral_items_are_named_not_dropped() -> None:
    data = exam_data()
    data["questions"].append({"id": "talk", "type": "oral", "prompt": "Stellen Sie sich vor."})
    data["questions"].append({"id": "say", "type": "spoken", "prompt": "Beschreiben Sie das Bild.",
                              "answer_seconds": 60})
    result = export_package(exam_from_data(data), media())
    assert [item for item, _why in result.skipped] == ["talk", "say"]
    assert len(read_package(result.package).questions) == len(data["questions"]) - 2


def test_pool_items_and_items_with_a_stimulus_are_named_not_dropped() -> None:
    data = exam_data()
    data["pool"] = [{"id": "p1", "type": "short_text", "topic": "t", "prompt": "Plural von Haus?",
                     "accepted": ["Häuser"]}]
    data["draw"] = [{"count": 1, "topic": "t"}]
    spec = exam_from_data(data)
    listening = dataclasses.replace(spec.questions[0], id="hear", media=_stimulus())
    spec = dataclasses.replace(spec, questions=(*spec.questions, listening))
    result = export_package(spec, media())
    assert sorted(item for item, _why in result.skipped) == ["hear", "p1"]
    assert len(read_package(result.package).questions) == len(data["questions"])


def _stimulus():  # type: ignore[no-untyped-def]
    from exams.questions import Stimulus

    return Stimulus("aud_0123456789abcdef", "Ein Gespräch am Bahnhof", "", 2)


def test_the_same_answers_score_the_same_after_the_round_trip() -> None:
    spec = exam()
    back = {q.id: q for q in _back(export_package(spec, media()).package)}
    answers = {"gap": {"g1": "KOMME", "g2": "nach"}, "match": {"p1": "dog", "p2": "mouse", "p3": "mouse"},
               "order": ["di", "mo", "mi", "do"], "street": "strasse", "spot": {"x": 50, "y": 40},
               "num": "3,54", "multi": ["a", "c"], "1a": "2"}
    for qid, answer in answers.items():
        question = next(q for q in spec.questions if q.id == qid)
        assert grade(back[qid], answer) == grade(question, answer)
    assert grade(back["gap"], answers["gap"]).points == 1


def test_a_broken_item_is_named_with_its_reason_and_nothing_comes_in() -> None:
    package = export_package(exam(), media()).package
    source = zipfile.ZipFile(io.BytesIO(package))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "items/match.xml":
                data = data.replace(b"qti-match-interaction", b"qti-graphic-gap-match-interaction")
            if name == "items/multi.xml":
                data = data.replace(b'<qti-value>c</qti-value>', b"").replace(b'<qti-value>a</qti-value>', b"")
            target.writestr(name, data)
    result = read_package(out.getvalue())
    assert [p.item for p in result.problems] == ["items/multi.xml", "items/match.xml"]
    assert "no option is marked correct" in result.problems[0].message
    assert "graphic gap match interaction has no aufsicht item type" in result.problems[1].message


@pytest.mark.parametrize("points", ["0", "1.5", "abc", "nan", "inf", "1e999", "-3"])
def test_points_aufsicht_cannot_give_are_a_problem(points: str) -> None:
    package = export_package(exam_from_data({**exam_data(), "questions": exam_data()["questions"][:1]}), {}).package
    source = zipfile.ZipFile(io.BytesIO(package))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name.startswith("items/"):
                data = data.replace(b"<qti-value>2</qti-value>", f"<qti-value>{points}</qti-value>".encode())
            target.writestr(name, data)
    problems = read_package(out.getvalue()).problems
    assert len(problems) == 1 and problems[0].item == "items/ID-1a.xml"


def test_export_data_matches_the_exam_file_layout() -> None:
    spec = exam()
    data = exam_to_data(spec)
    data["questions"] = read_package(export_package(spec, media()).package).questions
    for question in data["questions"]:
        if question["type"] == "hotspot":
            question["image"] = "img_0123456789abcdef"
    assert exam_from_data(data).questions == spec.questions


def test_a_gap_text_of_one_typed_gap_on_its_own_line_stays_a_gap_text() -> None:
    data = exam_data()
    data["questions"] = [{"id": "solo", "type": "gap_text", "prompt": "Schreiben Sie.", "text": "{{g}}\nEnde",
                          "gaps": [{"id": "g", "accepted": ["eins"]}]}]
    spec = exam_from_data(data)
    assert _back(export_package(spec, {}).package) == list(spec.questions)
