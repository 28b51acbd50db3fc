"""Exam import/export: the demo files, line-precise errors in YAML and JSON, round trips, robustness."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exams.questions import QuestionKind
from exams.schema import ExamImportError, Format, dump_exam, exam_to_data, format_for_filename, load_exam

EXAMPLES = Path(__file__).resolve().parents[2] / "exams" / "examples"
YAML_TEXT = (EXAMPLES / "demo-exam.yaml").read_text(encoding="utf-8")
JSON_TEXT = (EXAMPLES / "demo-exam.json").read_text(encoding="utf-8")


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th occurrence of needle."""
    pos = -1
    for _ in range(occurrence):
        pos = text.index(needle, pos + 1)
    return text.count("\n", 0, pos) + 1


def replace_nth(text: str, old: str, new: str, occurrence: int = 1) -> str:
    pos = -1
    for _ in range(occurrence):
        pos = text.index(old, pos + 1)
    return text[:pos] + new + text[pos + len(old):]


def problems(text: str, fmt: Format) -> list[tuple[int, str, str]]:
    with pytest.raises(ExamImportError) as info:
        load_exam(text, fmt)
    return [tuple(p) for p in info.value.problems]  # type: ignore[misc]


def test_demo_yaml_imports() -> None:
    spec = load_exam(YAML_TEXT, "yaml")
    assert spec.title.startswith("Grundlagen")
    assert spec.window.opens_at == dt.datetime(2026, 1, 1, 7, tzinfo=dt.UTC)
    assert spec.pass_mark_percent == 60 and spec.minimum_age == 16 and spec.max_points == 26
    assert [q.kind for q in spec.questions] == [QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE,
                                               QuestionKind.NUMERIC, QuestionKind.NUMERIC, QuestionKind.FREE_TEXT,
                                               QuestionKind.GAP_TEXT, QuestionKind.MATCHING, QuestionKind.ORDERING,
                                               QuestionKind.SHORT_TEXT, QuestionKind.HOTSPOT, QuestionKind.UPLOAD,
                                               QuestionKind.ESSAY, QuestionKind.SPOKEN]
    assert spec.questions[3].tolerance == Decimal("0.5")
    assert spec.proctors == ("proctor@example.org",)


def test_demo_json_is_the_same_exam() -> None:
    assert load_exam(JSON_TEXT, "json") == load_exam(YAML_TEXT, "yaml")


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_round_trip(fmt: Format) -> None:
    spec = load_exam(YAML_TEXT, "yaml")
    text = dump_exam(spec, fmt)
    assert load_exam(text, fmt) == spec
    assert dump_exam(load_exam(text, fmt), fmt) == text


def test_defaults_for_optional_fields() -> None:
    text = """
title: Minimal
duration_minutes: 10
window: {opens_at: "2026-01-01T00:00:00Z", closes_at: "2026-01-02T00:00:00Z"}
pass_mark_percent: 50.5
questions:
  - {id: q1, type: free_text, prompt: "Why?"}
"""
    spec = load_exam(text, "yaml")
    assert (spec.description, spec.minimum_age, spec.proctors) == ("", None, ())
    assert spec.identity_check_required and spec.proctoring_required
    assert not spec.shuffle_questions and not spec.shuffle_options
    assert spec.questions[0].points == 1
    assert spec.pass_mark_percent == Decimal("50.5")
    assert load_exam(dump_exam(spec, "yaml"), "yaml") == spec


def test_unquoted_yaml_timestamps_are_accepted() -> None:
    text = YAML_TEXT.replace('"2026-01-01T08:00:00+01:00"', "2026-01-01T08:00:00+01:00")
    assert load_exam(text, "yaml") == load_exam(YAML_TEXT, "yaml")


# (old, new, occurrence, line marker, path, message fragment): the error must sit on the marker's line.
YAML_CASES = [
    ('        text: "Article 17"\n', '        text: "Article 17"\n        correct: true\n', 1,
     "    options:", "questions[0].options", "exactly one correct option, found 2"),
    ("id: q-fine", "id: q-article", 1, "id: q-article\n    type: numeric", "questions[2].id", "duplicate question id"),
    ("pass_mark_percent: 60", "pass_mark_percent: 120", 1, "pass_mark_percent", "pass_mark_percent", "<= 100"),
    ("pass_mark_percent: 60", "pass_mark_percent: -1", 1, "pass_mark_percent", "pass_mark_percent", ">= 0"),
    ('closes_at: "2027-12-31T20:00:00+01:00"', 'closes_at: "2025-12-31T20:00:00+01:00"', 1, "closes_at",
     "window.closes_at", "close after it opens"),
    ("duration_minutes: 30", "duration_minutes: 0", 1, "duration_minutes", "duration_minutes", ">= 1"),
    ("duration_minutes: 30", "duration_minutes: thirty", 1, "duration_minutes", "duration_minutes", "whole number"),
    ("tolerance: 0.5", "tolerance: -0.5", 1, "tolerance: -0.5", "questions[3].tolerance", ">= 0"),
    ("tolerance: 0.5", "tolerance: .nan", 1, "tolerance: .nan", "questions[3].tolerance", "finite"),
    ('opens_at: "2026-01-01T08:00:00+01:00"', 'opens_at: "2026-01-01T08:00:00"', 1, "opens_at",
     "window.opens_at", "timezone"),
    ('opens_at: "2026-01-01T08:00:00+01:00"', 'opens_at: "0001-01-01T00:00:00+05:00"', 1, "opens_at",
     "window.opens_at", "between 2000 and 2100"),
    ('opens_at: "2026-01-01T08:00:00+01:00"', 'opens_at: "tomorrow"', 1, "opens_at", "window.opens_at", "ISO 8601"),
    ("  - proctor@example.org", "  - proctor-at-example.org", 1, "proctor-at", "proctors[0]", "e-mail"),
    ("shuffle_options: true", "shuffle_options: true\nshuffle_answers: true", 1, "shuffle_answers",
     "shuffle_answers", "unknown field"),
    ("      - id: curiosity", "      - id: consent", 1, 'id: consent\n        text: "Curiosity',
     "questions[1].options[2].id",
     "duplicate option id"),
    ("    type: free_text", "    type: poem", 1, "type: poem", "questions[4].type", "not one of"),
    ("    answer: 4\n", "", 1, "id: q-fine", "questions[2]", "missing required field 'answer'"),
    ("    answer: 72\n", "    answer: 72\n    options: []\n", 1, "options: []", "questions[3].options",
     "not allowed for this question type"),
    ("        correct: true\n      - id: contract", "      - id: contract", 1, "    options:\n      - id: consent",
     "questions[1].options",
     "at least one correct"),
    ("minimum_age: 16", "minimum_age: 16\nminimum_age: 18", 1, "minimum_age: 18", "minimum_age", "duplicate key"),
    ("title: ", "title: &t ", 1, "*t", "description", "aliases"),
    ("    points: 3", "    points: 3\n   bad: indent", 1, "bad: indent", "", "YAML syntax error"),
    ('closes_at: "2027-12-31T20:00:00+01:00"', 'closes_at: "2026-01-01T08:20:00+01:00"', 1, "duration_minutes",
     "duration_minutes", "window is open for only 20 minutes"),
]


@pytest.mark.parametrize(("old", "new", "occurrence", "marker", "path", "fragment"), YAML_CASES,
                         ids=[c[5] for c in YAML_CASES])
def test_yaml_error_is_line_precise(old: str, new: str, occurrence: int, marker: str, path: str,
                                    fragment: str) -> None:
    text = replace_nth(YAML_TEXT, old, new, occurrence)
    if fragment == "at least one correct":  # take away the second correct option as well
        text = replace_nth(text, "        correct: true\n      - id: curiosity", "      - id: curiosity")
    if marker == "*t":
        text = text.replace("description: >\n  A short", "description: *t\nx: >\n  A short")
    found = problems(text, "yaml")
    expected_line = line_of(text, marker)
    assert any(line == expected_line and fragment in message and (not path or p == path)
               for line, p, message in found), found


JSON_CASES = [
    ('"text": "Article 17",\n          "correct": false', '"text": "Article 17",\n          "correct": true', 1,
     '"options"', "questions[0].options", "exactly one correct option"),
    ('"id": "q-fine"', '"id": "q-article"', 1, '"id": "q-article",\n      "type": "numeric"', "questions[2].id",
     "duplicate question id"),
    ('"pass_mark_percent": 60', '"pass_mark_percent": 100.5', 1, "pass_mark_percent", "pass_mark_percent", "<= 100"),
    ('"closes_at": "2027', '"closes_at": "2025', 1, "closes_at", "window.closes_at", "close after it opens"),
    ('"duration_minutes": 30', '"duration_minutes": 0', 1, "duration_minutes", "duration_minutes", ">= 1"),
    ('"tolerance": 0.5', '"tolerance": -1', 1, '"tolerance": -1', "questions[3].tolerance", ">= 0"),
    ('"minimum_age": 16,', '"minimum_age": 16,\n  "minimum_age": 18,', 1, '"minimum_age": 18', "minimum_age",
     "duplicate key"),
    ('"points": 3,', '"points": 3,,', 1, '"points": 3,,', "", "JSON syntax error"),
    ('"proctoring_required": true', '"proctoring_required": "yes"', 1, "proctoring_required",
     "proctoring_required", "true or false"),
    ('"type": "free_text",', '"type": "free_text",\n      "answer": 3,', 1, '"answer": 3', "questions[4].answer",
     "not allowed"),
]


@pytest.mark.parametrize(("old", "new", "occurrence", "marker", "path", "fragment"), JSON_CASES,
                         ids=[c[5] for c in JSON_CASES])
def test_json_error_is_line_precise(old: str, new: str, occurrence: int, marker: str, path: str,
                                    fragment: str) -> None:
    text = replace_nth(JSON_TEXT, old, new, occurrence)
    found = problems(text, "json")
    expected_line = line_of(text, marker)
    assert any(line == expected_line and fragment in message and (not path or p == path)
               for line, p, message in found), found


def test_every_problem_is_reported_at_once() -> None:
    text = YAML_TEXT.replace("pass_mark_percent: 60", "pass_mark_percent: 160")
    text = text.replace("duration_minutes: 30", "duration_minutes: -5")
    text = text.replace("    type: free_text", "    type: poem")
    with pytest.raises(ExamImportError) as info:
        load_exam(text, "yaml")
    err = info.value
    assert [p.path for p in err.problems] == ["duration_minutes", "pass_mark_percent", "questions[4].type"]
    assert str(err).count("\nline ") == 3
    assert f"line {line_of(text, 'pass_mark_percent')}: pass_mark_percent: must be <= 100" in str(err)
    assert err.status == 400 and set(err.fields) == {p.path for p in err.problems}


@pytest.mark.parametrize(("text", "fmt", "line"), [
    ("", "yaml", 1), ("   \n", "json", 1), ("- just\n- a list\n", "yaml", 1), ("[1, 2]", "json", 1),
    ("a: 1\n---\nb: 2\n", "yaml", 2), ("{\n\n  \"title\": tru\n}", "json", 3),
    ("title: !!python/object:os.system x", "yaml", 1),
    ("{\"a\": 1} trailing", "json", 1), ("x: " + "[" * 400 + "]" * 400, "yaml", 1),
    ("[" * 5000 + "]" * 5000, "json", 1), ("n: " + "9" * 5000, "yaml", 1), ('{"n": ' + "9" * 5000 + "}", "json", 1),
])
def test_malformed_documents(text: str, fmt: Format, line: int) -> None:
    found = problems(text, fmt)
    assert found and found[0][0] == line


def test_format_for_filename() -> None:
    assert format_for_filename("Exam.YML") == "yaml"
    assert format_for_filename("exam.json") == "json"
    with pytest.raises(ExamImportError.__mro__[1]):  # ValidationFailed
        format_for_filename("exam.txt")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(), st.sampled_from(["yaml", "json"]))
def test_importer_raises_only_exam_import_error(text: str, fmt: Format) -> None:
    try:
        load_exam(text, fmt)
    except ExamImportError as err:
        assert err.problems and all(p.line >= 1 for p in err.problems)


def _mutations() -> st.SearchStrategy[str]:
    base = [YAML_TEXT, JSON_TEXT]
    return st.tuples(st.sampled_from(base), st.integers(0, 3000), st.integers(0, 40), st.text(max_size=20)).map(
        lambda t: t[0][: t[1] % len(t[0])] + t[3] + t[0][t[1] % len(t[0]) + t[2]:]
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_mutations(), st.sampled_from(["yaml", "json"]))
def test_importer_survives_mutated_exams(text: str, fmt: Format) -> None:
    try:
        load_exam(text, fmt)
    except ExamImportError as err:
        assert err.problems and all(1 <= p.line <= text.count("\n") + 2 for p in err.problems)


_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
_documents = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)
_demo = load_exam(YAML_TEXT, "yaml")


@st.composite
def _near_valid(draw: st.DrawFn) -> dict[str, object]:
    """The demo exam as data with one field somewhere replaced by arbitrary data."""
    data = exam_to_data(_demo)
    node: object = data
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        if draw(st.booleans()):
            node[key] = draw(_documents)  # type: ignore[index]
            break
        node = node[key]  # type: ignore[index]
    return data


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_near_valid() | _documents, st.sampled_from(["yaml", "json"]))
def test_importer_raises_only_exam_import_error_on_odd_structures(data: object, fmt: Format) -> None:
    text = yaml.safe_dump(data, allow_unicode=True) if fmt == "yaml" else json.dumps(data, ensure_ascii=False)
    try:
        load_exam(text, fmt)
    except ExamImportError as err:
        assert err.problems
