"""Property: every valid exam survives dump_exam/load_exam unchanged, in YAML and in JSON."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exams.questions import ExamSpec, Option, QuestionKind, QuestionSpec, Stimulus, Window
from exams.schema import dump_exam, load_exam

YAML_DEMO = (Path(__file__).resolve().parents[2] / "exams" / "examples" / "demo-exam.yaml").read_text(encoding="utf-8")

texts = st.text(min_size=1, max_size=40)
ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,10}", fullmatch=True)
numbers = st.floats(allow_nan=False, allow_infinity=False).map(lambda f: Decimal(repr(f)))
tolerances = st.floats(min_value=0, allow_infinity=False).map(lambda f: Decimal(repr(f)))


@st.composite
def options(draw: st.DrawFn, single: bool) -> tuple[Option, ...]:
    option_ids = draw(st.lists(ids, min_size=2, max_size=6, unique=True))
    labels = draw(st.lists(texts, min_size=len(option_ids), max_size=len(option_ids),
                           unique_by=lambda t: t.strip().casefold()))
    if single:
        right = draw(st.integers(0, len(option_ids) - 1))
        flags = [i == right for i in range(len(option_ids))]
    else:
        flags = draw(st.lists(st.booleans(), min_size=len(option_ids), max_size=len(option_ids)).filter(any))
    return tuple(Option(i, t, c) for i, t, c in zip(option_ids, labels, flags, strict=True))


media = st.none() | st.builds(Stimulus, st.from_regex(r"[A-Za-z0-9_-]{16,24}", fullmatch=True), texts,
                              st.text(max_size=40), st.none() | st.integers(1, 20))


@st.composite
def question(draw: st.DrawFn, qid: str) -> QuestionSpec:
    return dataclasses.replace(draw(bare_question(qid)), media=draw(media))


@st.composite
def bare_question(draw: st.DrawFn, qid: str) -> QuestionSpec:
    # The item types of exams.itemtypes have their own round trip (tests/exams/test_itemtypes.py).
    kind = draw(st.sampled_from([QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE, QuestionKind.NUMERIC,
                                 QuestionKind.FREE_TEXT, QuestionKind.ORAL]))
    points = draw(st.integers(1, 1000))
    prompt = draw(texts)
    if kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        return QuestionSpec(qid, kind, prompt, points, draw(options(kind is QuestionKind.SINGLE_CHOICE)))
    if kind is QuestionKind.NUMERIC:
        return QuestionSpec(qid, kind, prompt, points, answer=draw(numbers), tolerance=draw(tolerances))
    return QuestionSpec(qid, kind, prompt, points)


@st.composite
def exams(draw: st.DrawFn) -> ExamSpec:
    question_ids = draw(st.lists(ids, min_size=1, max_size=5, unique=True))
    duration = draw(st.integers(1, 10080))
    offset = dt.timezone(dt.timedelta(minutes=draw(st.integers(-12 * 60, 14 * 60))))
    opens = draw(st.datetimes(min_value=dt.datetime(2001, 1, 1), max_value=dt.datetime(2090, 1, 1)))
    opens = opens.replace(tzinfo=offset)
    closes = opens + dt.timedelta(minutes=duration + draw(st.integers(0, 10**6)))
    return ExamSpec(
        title=draw(st.text(min_size=1, max_size=200)),
        description=draw(st.text(max_size=200)),
        duration_minutes=duration,
        window=Window(opens, closes),
        pass_mark_percent=draw(st.decimals(0, 100, places=2)),
        minimum_age=draw(st.none() | st.integers(0, 130)),
        identity_check_required=draw(st.booleans()),
        proctoring_required=draw(st.booleans()),
        shuffle_questions=draw(st.booleans()),
        shuffle_options=draw(st.booleans()),
        proctors=tuple(draw(st.lists(st.sampled_from(["a@example.org", "b.c@uni.example", "x+y@sub.example.de"]),
                                     unique=True))),
        questions=tuple(draw(question(qid)) for qid in question_ids),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exams(), st.sampled_from(["yaml", "json"]))
def test_dump_then_load_is_identity(spec: ExamSpec, fmt: str) -> None:
    assert load_exam(dump_exam(spec, fmt), fmt) == spec  # type: ignore[arg-type]


def test_unicode_line_breaks_survive_yaml() -> None:
    spec = load_exam(YAML_DEMO, "yaml")
    for title in ("a\x85b", "\x85", "a\u2028b", "a\u2029b", "yes", "12", "- x", "#", " padded "):
        changed = dataclasses.replace(spec, title=title)
        assert load_exam(dump_exam(changed, "yaml"), "yaml") == changed, title
