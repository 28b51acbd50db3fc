"""The item types of exams.itemtypes: file format, grading with partial credit, folding, answer shapes."""

from __future__ import annotations

import datetime as dt

import pytest

from exams.itemanswers import candidate_parts, clean_answer
from exams.itemtypes import fold, longest_ordered
from exams.questions import QuestionKind, grade, score_attempt, shuffled_order
from exams.schema import ExamImportError, dump_exam, exam_from_data, schema_problems
from kernel.errors import ValidationFailed
from tests.exams.items_data import new_type_items


def _data(questions: list[dict]) -> dict:
    now = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    return {"title": "T", "duration_minutes": 30, "pass_mark_percent": 50, "questions": questions,
            "window": {"opens_at": now.isoformat(), "closes_at": (now + dt.timedelta(hours=2)).isoformat()}}


@pytest.fixture
def spec():
    data = _data(new_type_items())
    assert schema_problems(data) == []
    return exam_from_data(data)


def test_points_default_to_gaps_premises_and_rubric(spec):
    assert spec.question("gap").points == 2
    assert spec.question("match").points == 3
    assert spec.question("essay").points == 5  # best levels: 3 + 2
    assert spec.max_points == 2 + 3 + 3 + 1 + 1 + 1 + 2 + 5


def test_round_trip_through_yaml_and_json(spec):
    from exams.schema import load_exam

    for fmt in ("yaml", "json"):
        assert load_exam(dump_exam(spec, fmt), fmt) == spec


def test_gap_text_per_gap(spec):
    q = spec.question("gap")
    assert grade(q, {"g1": " KOMME ", "g2": "in"}).points == 2
    assert grade(q, {"g1": "kommen", "g2": "in"}).points == 1
    assert grade(q, {"g2": "nach"}).points == 0
    assert grade(q, "komme").points == 0  # wrong shape is wrong, never an error


def test_matching_per_pair(spec):
    q = spec.question("match")
    assert grade(q, {"p1": "dog", "p2": "cat", "p3": "mouse"}).points == 3
    assert grade(q, {"p1": "dog", "p2": "mouse", "p3": "cow"}).points == 1
    assert grade(q, {"p1": "cat", "p2": "dog"}).points == 0


def test_ordering_longest_subsequence_and_all_or_nothing(spec):
    q = spec.question("order")
    assert grade(q, ["mo", "di", "mi", "do"]).points == 3
    assert grade(q, ["di", "mo", "mi", "do"]).points == 2  # L=3: floor(3 * 2/3)
    assert grade(q, ["do", "mi", "di", "mo"]).points == 0  # reversed: L=1
    assert grade(q, ["mo", "di", "mi"]).points == 0  # not every item
    assert longest_ordered(["a", "b", "c", "d", "e"], ["b", "a", "c", "e", "d"]) == 3
    strict = exam_from_data(_data([{**new_type_items()[2], "scoring": "all_or_nothing"}])).question("order")
    assert grade(strict, ["di", "mo", "mi", "do"]).points == 0
    assert grade(strict, ["mo", "di", "mi", "do"]).points == 3


def test_ordering_never_starts_solved():
    data = _data([{"id": "o", "type": "ordering", "prompt": "p",
                   "options": [{"id": "a", "text": "1"}, {"id": "b", "text": "2"}]}])
    s = exam_from_data(data)
    starts = {shuffled_order(s, seed).option_ids["o"] for seed in range(40)}
    assert starts == {("b", "a")}


def test_short_text_folding(spec):
    q = spec.question("short")
    for given in ("Bahnhof", "bahnhof", "  am   Bahnhof ", "AM BAHNHOF"):
        assert grade(q, given).points == 1, given
    assert grade(q, "Bahnhöfe").points == 0
    street = spec.question("street")
    for given in ("Straße", "strasse", "STRASSE", "Strasse", "straße"):
        assert grade(street, given).points == 1, given
    assert fold("Ärger über Öl") == "aerger ueber oel"
    assert fold("Ärger", case_sensitive=True) == "Aerger"
    exact = exam_from_data(_data([{"id": "c", "type": "short_text", "prompt": "p", "accepted": ["Berlin"],
                                   "case_sensitive": True}])).question("c")
    assert grade(exact, "Berlin").points == 1 and grade(exact, "berlin").points == 0


def test_hotspot_rect_and_circle(spec):
    q = spec.question("spot")
    assert grade(q, {"x": 50, "y": 40}).points == 1
    assert grade(q, {"x": 100, "y": 80}).points == 1  # the edge counts
    assert grade(q, {"x": 300, "y": 150}).points == 0  # inside the wrong circle
    assert grade(q, {"x": "50", "y": 40}).points == 0


def test_upload_and_essay_need_a_person(spec):
    assert grade(spec.question("file"), {"file": 3, "name": "a.pdf"}).needs_manual
    assert not grade(spec.question("file"), None).needs_manual
    assert grade(spec.question("essay"), "Ein Text.").needs_manual
    result = score_attempt(spec, {"essay": "Liebe Anna, ich komme gern.", "gap": {"g1": "komme", "g2": "in"}},
                           {"essay": 4})
    assert result.points == 6 and result.pending_manual == ()


@pytest.mark.parametrize(("qid", "value", "field"), [
    ("gap", "komme", "wrong shape"),
    ("gap", {"g9": "x"}, "unknown gap"),
    ("gap", {"g2": "nachher"}, "unknown option"),
    ("gap", {"g1": "x" * 501}, "too long"),
    ("match", ["dog"], "wrong shape"),
    ("match", {"p1": "horse"}, "unknown response"),
    ("match", {"p9": "dog"}, "unknown premise"),
    ("order", ["mo", "di"], "wrong shape"),
    ("order", ["mo", "mo", "mi", "do"], "wrong shape"),
    ("short", 42, "wrong shape"),
    ("spot", {"x": 1}, "wrong shape"),
    ("spot", {"x": -1, "y": 2}, "outside"),
    ("spot", {"x": True, "y": 2}, "outside"),
    ("file", {"file": 1}, "upload item"),
    ("essay", ["a"], "wrong shape"),
])
def test_malformed_answers_are_refused_with_a_reason(spec, qid, value, field):
    with pytest.raises(ValidationFailed) as err:
        clean_answer(spec.question(qid), value)
    assert err.value.fields == {"value": field}


def test_well_formed_answers_are_kept(spec):
    assert clean_answer(spec.question("gap"), {"g1": "komme", "g2": ""}) == {"g1": "komme"}
    assert clean_answer(spec.question("spot"), {"x": 10, "y": 20.26}) == {"x": 10.0, "y": 20.3}
    assert clean_answer(spec.question("file"), None) is None


def test_candidate_parts_reveal_no_solution(spec):
    parts = candidate_parts(spec.question("gap"))
    assert [s.get("gap") for s in parts["segments"]] == [None, "g1", None, "g2", None]
    assert "komme" not in repr(parts) and "True" not in repr(parts)
    assert "dog" not in repr(candidate_parts(spec.question("match")))


@pytest.mark.parametrize(("item", "message"), [
    ({"id": "g", "type": "gap_text", "prompt": "p", "text": "a {{x}}", "gaps": [{"id": "y", "accepted": ["b"]}]},
     "exactly once"),
    ({"id": "g", "type": "gap_text", "prompt": "p", "text": "a {{x}}",
      "gaps": [{"id": "x", "options": [{"id": "a", "text": "a"}, {"id": "b", "text": "b"}]}]}, "exactly one correct"),
    ({"id": "m", "type": "matching", "prompt": "p", "premises": [{"id": "a", "text": "a", "match": "z"},
                                                              {"id": "b", "text": "b", "match": "y"}],
      "options": [{"id": "y", "text": "y"}, {"id": "w", "text": "w"}]}, "not a response id"),
    ({"id": "o", "type": "ordering", "prompt": "p", "options": [{"id": "a", "text": "a", "correct": True},
                                                              {"id": "b", "text": "b"}]}, "no correct flag"),
    ({"id": "h", "type": "hotspot", "prompt": "p", "image": "img_0123456789abcdef", "image_alt": "a",
      "areas": [{"shape": "circle", "x": 1, "y": 1}]}, "needs r"),
    ({"id": "e", "type": "essay", "prompt": "p", "min_words": 9, "max_words": 3}, "more than max_words"),
    ({"id": "e", "type": "essay", "prompt": "p", "points": 9, "rubric": [{"id": "c", "name": "c", "levels": [
        {"id": "l1", "label": "1", "points": 0}, {"id": "l2", "label": "2", "points": 2}]}]}, "at most 2 points"),
    ({"id": "s", "type": "short_text", "prompt": "p", "accepted": ["a"], "options": [
        {"id": "a", "text": "a"}, {"id": "b", "text": "b"}]}, "not allowed for this question type"),
])
def test_file_format_problems(item, message):
    problems = schema_problems(_data([item]))
    assert any(message in p.message for p in problems), problems


def test_kinds_have_labels():
    from app.labels import LABELS

    assert {k.value for k in QuestionKind} <= set(LABELS["question_kind"])


def test_load_reports_problems_by_line():
    from exams.schema import load_exam

    text = dump_exam(exam_from_data(_data(new_type_items())), "yaml").replace("{{g2}}", "")
    with pytest.raises(ExamImportError) as err:
        load_exam(text, "yaml")
    assert "{{g2}}" in str(err.value)
