"""Pools and forms (issue 32, point 3): items drawn per attempt from a pool by topic and difficulty.

The draw is seeded per attempt and stored with it; the page, a reload, grading, the maximum, the office's views, the
results file and the item analysis use exactly the stored draw; a candidate cannot answer an item not drawn for
them; an impossible draw is an import error at its line; the exam file keeps the pool through an export.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from exams.attempts import attempt_spec, exam_spec, questions_for, save_answer, start_attempt, submit_attempt
from exams.authoring import create_exam, export_exam, save_exam
from exams.grading import release_all
from exams.models import Answer, Attempt
from exams.questions import QuestionKind, QuestionSpec, draw_items
from exams.schema import ExamImportError, dump_exam, load_exam
from items.statistics import analyse, item_analysis
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import Conflict
from results.export import released_results
from tests.conftest import login, start_exam


def choice(item_id: str, topic: str, difficulty: str, points: int = 1) -> dict[str, Any]:
    """A single-choice pool item whose right option is "r"."""
    return {"id": item_id, "type": "single_choice", "prompt": f"Frage {item_id}?", "points": points,
            "topic": topic, "difficulty": difficulty,
            "options": [{"id": "r", "text": "richtig", "correct": True}, {"id": "f", "text": "falsch"}]}


FIXED = [{"id": "fix", "type": "numeric", "prompt": "1 + 1?", "points": 2, "answer": 2}]
GRAMMAR = [choice(f"g{i}", "grammar", "medium") for i in range(1, 11)]  # 10 items, 2 drawn: 45 forms
VOCAB = [choice(f"v{i}", "vocabulary", "easy", points=3) for i in range(1, 4)]  # 3 items, 1 drawn
POOL = GRAMMAR + VOCAB
DRAWS = [{"count": 2, "topic": "grammar", "difficulty": "medium"}, {"count": 1, "topic": "vocabulary"}]

YAML = """\
title: Deutsch A2
duration_minutes: 30
window: {opens_at: "2026-03-01T09:00:00+01:00", closes_at: "2026-03-01T12:00:00+01:00"}
pass_mark_percent: 60
questions:
  - {id: fix, type: numeric, prompt: "1 + 1?", points: 2, answer: 2}
pool:
  - id: g1
    type: single_choice
    topic: grammar
    difficulty: medium
    prompt: "Ich ___ aus Köln."
    options: [{id: r, text: komme, correct: true}, {id: f, text: kommst}]
  - id: g2
    type: short_text
    topic: grammar
    difficulty: medium
    prompt: "Plural von Haus?"
    accepted: ["Häuser"]
  - id: v1
    type: single_choice
    topic: vocabulary
    difficulty: easy
    points: 2
    prompt: "street?"
    options: [{id: r, text: Straße, correct: true}, {id: f, text: Strand}]
draw:
  - {count: 1, topic: grammar, difficulty: medium}
  - {count: 1, topic: vocabulary}
"""


def problems_of(text: str) -> list[str]:
    """Every problem the import reports, as "line N: path: message"."""
    with pytest.raises(ExamImportError) as err:
        load_exam(text, "yaml")
    return [str(p) for p in err.value.problems]


# --------------------------------------------------------------------------------------------- the file


def test_the_file_format_loads_and_round_trips_with_its_pool():
    spec = load_exam(YAML, "yaml")
    assert [q.id for q in spec.questions] == ["fix"]
    assert [(q.id, q.topic, q.difficulty) for q in spec.pool] == [
        ("g1", "grammar", "medium"), ("g2", "grammar", "medium"), ("v1", "vocabulary", "easy")]
    assert [(r.count, r.topic, r.difficulty) for r in spec.draws] == [(1, "grammar", "medium"), (1, "vocabulary", "")]
    assert spec.max_points == 2 + 1 + 2  # per attempt: the questions, one grammar item, one vocabulary item
    for fmt in ("yaml", "json"):
        text = dump_exam(spec, fmt)
        assert load_exam(text, fmt) == spec
        assert "pool" in text and "draw" in text and "vocabulary" in text


def test_an_exam_without_a_pool_exports_as_before():
    text = dump_exam(load_exam(YAML.split("pool:")[0], "yaml"), "yaml")
    assert "pool" not in text and "draw" not in text and "topic" not in text


def test_an_impossible_draw_is_an_import_error_at_its_line():
    found = problems_of(YAML.replace("{count: 1, topic: grammar, difficulty: medium}",
                                     "{count: 3, topic: grammar, difficulty: medium}"))
    assert found == ["line 28: draw[0].count: draws 3 items of topic 'grammar', difficulty 'medium', but the pool "
                     "has only 2 such items"]
    # A typo in a rule's topic: the rule finds nothing, and the items it meant are drawn by no rule.
    found = problems_of(YAML.replace("{count: 1, topic: vocabulary}", "{count: 1, topic: vocabular}"))
    assert any(p.startswith("line 29: draw[1].count: draws 1 items of topic 'vocabular'") for p in found)
    assert any(p.startswith("line 20: pool[2]: no draw rule takes item 'v1'") for p in found)


@pytest.mark.parametrize(("change", "expected"), [
    # two rules drawing the same item
    (("{count: 1, topic: vocabulary}", "{count: 1, difficulty: medium}"),
     "line 8: pool[0]: item 'g1' is drawn by draw[0] and draw[1]"),
    # unequal points within a rule: candidates could not reach the same maximum
    (("    prompt: \"Plural von Haus?\"", "    points: 2\n    prompt: \"Plural von Haus?\""),
     "line 29: draw[0]: the items a rule draws from must carry equal points, so every candidate can reach the same "
     "maximum (g1: 1, g2: 2)"),
    # one id for a question and a pool item
    (("  - id: g2", "  - id: fix"), "line 14: pool[1].id: duplicate question id 'fix' (first on line 6)"),
    # a pool without rules
    (("draw:\n  - {count: 1, topic: grammar, difficulty: medium}\n  - {count: 1, topic: vocabulary}\n", ""),
     "line 7: pool: a pool needs draw rules"),
    # an unknown difficulty
    (("    difficulty: easy", "    difficulty: mittel"), "line 23: pool[2].difficulty: 'mittel' is not one of easy, "
                                                          "medium, hard"),
    # an oral item cannot be drawn
    (("short_text\n    topic: grammar\n    difficulty: medium\n    prompt: \"Plural von Haus?\"\n"
      "    accepted: [\"Häuser\"]",
      "oral\n    topic: grammar\n    difficulty: medium\n    prompt: \"Plural von Haus?\""),
     "line 15: pool[1].type: oral items are asked in the call"),
])
def test_pool_problems_name_their_line(change, expected):
    old, new = change
    assert old in YAML
    found = problems_of(YAML.replace(old, new, 1))
    assert any(p.startswith(expected) for p in found), found


# --------------------------------------------------------------------------------------------- the draw


def test_the_draw_is_deterministic_per_seed_and_follows_the_rules():
    spec = load_exam(YAML, "yaml")
    big = dataclasses.replace(spec, pool=tuple(load_pool()))  # ten grammar items, three vocabulary items
    draws = {seed: draw_items(big, seed) for seed in range(200)}
    for seed, drawn in draws.items():
        assert draw_items(big, seed) == drawn  # the same seed, the same items
        assert sum(i.startswith("g") for i in drawn) == 1 and sum(i.startswith("v") for i in drawn) == 1
    # 10 grammar x 3 vocabulary items: 30 forms; 200 seeds reach nearly all of them, each rule's items evenly.
    assert len(set(draws.values())) >= 25
    firsts = [d[0] for d in draws.values()]
    assert all(5 <= firsts.count(f"g{i}") <= 40 for i in range(1, 11))


def load_pool() -> list[QuestionSpec]:
    """The ten grammar and three vocabulary items as specs (through the file format)."""
    from exams.schema import exam_from_data

    spec = exam_from_data({"title": "t", "duration_minutes": 1, "pass_mark_percent": 50, "questions": FIXED,
                           "window": {"opens_at": "2026-03-01T09:00:00+01:00",
                                      "closes_at": "2026-03-01T12:00:00+01:00"},
                           "pool": [{**q, "points": 1} for q in POOL], "draw": DRAWS})
    return list(spec.pool)


@pytest.fixture
def pooled(make_institution, make_user, make_exam) -> Any:
    """An exam of one fixed question and a pool: two grammar items of ten, one vocabulary item of three."""
    inst = make_institution("Sprachschule Nord")
    exam = make_exam(institution=inst, title="Deutsch A2", questions=FIXED, pool=POOL, draws=DRAWS,
                     pass_mark_percent=50, identity_check_required=False, proctoring_required=False)
    return type("Pooled", (), {"inst": inst, "exam": exam, "staff": make_user("staff", inst),
                               "make_candidate": lambda: make_user("candidate", inst)})


def test_each_attempt_stores_its_draw_and_a_reload_shows_the_same_items(app, pooled):
    with app.test_request_context():
        candidate = pooled.make_candidate()
        attempt = start_attempt(candidate, pooled.exam, utcnow())
        drawn = attempt.layout["drawn"]
        assert drawn == list(draw_items(exam_spec(pooled.exam), attempt.seed))  # stored: the seed's draw
        assert len(drawn) == 3 and sum(d.startswith("g") for d in drawn) == 2
        shown = [q.id for q in questions_for(attempt)]
        assert sorted(shown) == sorted(["fix", *drawn])
        again = start_attempt(candidate, pooled.exam, utcnow())  # a reload resumes the same attempt
        assert again.id == attempt.id and [q.id for q in questions_for(again)] == shown
        # What counts is the stored list, not a new draw: were the stored ids others, grading would follow them.
        attempt.layout = {**attempt.layout, "drawn": ["g9", "g10", "v3"]}
        db.session.commit()
        assert [q.id for q in attempt_spec(attempt).questions] == ["fix", "g9", "g10", "v3"]


def test_two_attempts_get_different_items(app, pooled):
    with app.test_request_context():
        draws = [tuple(start_attempt(pooled.make_candidate(), pooled.exam, utcnow()).layout["drawn"])
                 for _ in range(6)]
    # 135 forms: six candidates all with the same one would happen once in 135^5 runs.
    assert len(set(draws)) > 1


def test_grading_and_the_maximum_count_the_drawn_items_only(app, pooled):
    with app.test_request_context():
        attempt = start_attempt(pooled.make_candidate(), pooled.exam, utcnow())
        drawn = attempt.layout["drawn"]
        for qid in ["fix", *drawn]:
            save_answer(attempt, qid, 2 if qid == "fix" else "r", utcnow())
        # An answer row for an item not drawn (as if written past the API) gives no points.
        other = next(q["id"] for q in POOL if q["id"] not in drawn)
        db.session.add(Answer(attempt_id=attempt.id, question_id=other, value="r", saved_at=utcnow()))
        db.session.commit()
        submit_attempt(attempt, utcnow())
    db.session.refresh(attempt)
    # 2 (fixed) + 2 x 1 (grammar) + 3 (vocabulary): the maximum as drawn, the same for every candidate.
    assert (attempt.points, attempt.max_points, attempt.percent, attempt.passed) == (7, 7, 100, True)
    assert [q.id for q in attempt_spec(attempt).questions] == ["fix", *drawn]
    assert exam_spec(pooled.exam).max_points == 7


def test_a_candidate_cannot_answer_an_item_not_drawn_for_them(client, pooled):
    candidate = pooled.make_candidate()
    login(client, candidate)
    attempt_id = start_exam(client, pooled.exam.id)
    attempt = db.session.get(Attempt, attempt_id)
    drawn = attempt.layout["drawn"]
    assert client.put(f"/api/attempts/{attempt_id}/answers/{drawn[0]}", json={"value": "r"}).status_code == 200
    for other in [q["id"] for q in POOL if q["id"] not in drawn][:3]:
        resp = client.put(f"/api/attempts/{attempt_id}/answers/{other}", json={"value": "r"})
        assert resp.status_code == 404, other
        assert resp.json["error"]["message"] == "Diese Frage gibt es in der Prüfung nicht."  # German first
    stored = set(db.session.scalars(select(Answer.question_id).where(Answer.attempt_id == attempt_id)))
    assert stored == {drawn[0]}
    page = client.get(f"/candidate/attempts/{attempt_id}").get_data(as_text=True)
    assert all(f"Frage {d}?" in page for d in drawn)
    assert not any(f"Frage {q['id']}?" in page for q in POOL if q["id"] not in drawn)


def _released(app, pooled, n: int) -> list[Attempt]:
    """``n`` candidates answer every drawn item right except the vocabulary one, and are released."""
    attempts = []
    with app.test_request_context():
        for _ in range(n):
            attempt = start_attempt(pooled.make_candidate(), pooled.exam, utcnow())
            for qid in ["fix", *attempt.layout["drawn"]]:
                save_answer(attempt, qid, 2 if qid == "fix" else "f" if qid.startswith("v") else "r", utcnow())
            submit_attempt(attempt, utcnow())
            attempts.append(attempt)
        report = release_all(pooled.staff, pooled.exam, utcnow())
        assert len(report.released) == n
    return attempts


def test_the_office_sees_the_items_each_candidate_got(client, app, pooled):
    attempt = _released(app, pooled, 1)[0]
    drawn = attempt.layout["drawn"]
    login(client, pooled.staff)
    page = client.get(f"/staff/exams/{pooled.exam.id}").get_data(as_text=True)
    assert ", ".join(drawn) in page
    review = client.get(f"/staff/attempts/{attempt.id}").get_data(as_text=True)
    assert 'id="drawn"' in review and ", ".join(drawn) in review
    assert all(f"Frage {d}?" in review for d in drawn)  # the answer table: the drawn items, no others
    assert not any(f"Frage {q['id']}?" in review for q in POOL if q["id"] not in drawn)
    # The results file: points for the drawn items, an empty cell for the others.
    table = released_results(pooled.exam)
    row = table.rows[0]
    points = dict(zip([q.id for q in table.items], row.item_points, strict=True))
    assert points["fix"] == 2 and all(points[d] == (0 if d.startswith("v") else 1) for d in drawn)
    assert all(points[q["id"]] is None for q in POOL if q["id"] not in drawn)


def test_the_form_editor_leaves_a_pool_exam_to_its_file(client, app, pooled):
    login(client, pooled.staff)
    resp = client.get(f"/staff/exams/{pooled.exam.id}/compose")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/staff/exams/{pooled.exam.id}/edit")
    spec = dataclass_without_pool(exam_spec(pooled.exam))
    with app.test_request_context(), pytest.raises(Conflict):
        save_exam(pooled.inst, pooled.exam, spec)
    assert len(db.session.get(type(pooled.exam), pooled.exam.id).pool) == len(POOL)  # nothing lost


def dataclass_without_pool(spec: Any) -> Any:
    """The spec as the form would give it back: no pool."""
    return dataclasses.replace(spec, pool=(), draws=())


def test_an_imported_exam_keeps_its_pool_through_the_export(app, make_institution):
    inst = make_institution()
    now = utcnow()
    text = YAML.replace("2026-03-01T09:00:00+01:00", f"{(now - dt.timedelta(hours=1)).isoformat()}+00:00").replace(
        "2026-03-01T12:00:00+01:00", f"{(now + dt.timedelta(hours=5)).isoformat()}+00:00")
    with app.test_request_context():
        exam = create_exam(inst, text, "yaml")
        assert [q["id"] for q in exam.pool] == ["g1", "g2", "v1"] and len(exam.draws) == 2
        assert load_exam(export_exam(exam, "yaml"), "yaml") == load_exam(text, "yaml")


# --------------------------------------------------------------------------------------------- item analysis


def test_an_item_counts_over_the_attempts_that_got_it_only():
    items = [QuestionSpec("a", QuestionKind.SINGLE_CHOICE, "A"), QuestionSpec("p", QuestionKind.SINGLE_CHOICE, "P"),
             QuestionSpec("q", QuestionKind.SINGLE_CHOICE, "Q")]
    # Six attempts; "p" went to the first five, "q" to the last only. Not given is 0 in the matrix, and must not
    # count as a wrong answer.
    scores = np.array([[1, 1, 0], [1, 1, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0], [1, 0, 1]], dtype=float)
    given = np.array([[1, 1, 0]] * 5 + [[1, 0, 1]], dtype=bool)
    result = analyse(1, items, scores, [{}, {}, {}], [6, 5, 1], 5, given)
    a, p, q = result.items
    assert (a.given, p.given, q.given) == (6, 5, 1)
    assert a.difficulty == pytest.approx(4 / 6) and p.difficulty == pytest.approx(3 / 5)  # 3 of 5, not 3 of 6
    assert p.unanswered_share == 0.0
    assert q.difficulty is None and q.discrimination is None  # one candidate: no figures (statistics rule)
    # p's discrimination over its five attempts: p against the rest (a) there.
    pa, rest = np.array([1, 1, 1, 0, 0.0]), np.array([1, 1, 0, 1, 0.0])
    assert p.discrimination == pytest.approx(float(np.corrcoef(pa, rest)[0, 1]))
    assert result.alpha is None  # alpha over the items everyone got: one item only


def test_the_item_analysis_reads_the_stored_draws(app, pooled):
    attempts = _released(app, pooled, 6)
    with app.test_request_context():
        result = item_analysis(pooled.exam)
    by_id = {i.question_id: i for i in result.items}
    got: dict[str, int] = {}
    for a in attempts:
        for d in a.layout["drawn"]:
            got[d] = got.get(d, 0) + 1
    assert by_id["fix"].given == 6 and by_id["fix"].difficulty == 1.0
    for item in POOL:
        assert by_id[item["id"]].given == got.get(item["id"], 0)
        if got.get(item["id"], 0) >= 5:  # vocabulary items are answered wrong by all who got them
            assert by_id[item["id"]].difficulty == (0.0 if item["id"].startswith("v") else 1.0)
        else:
            assert by_id[item["id"]].difficulty is None


def test_an_exam_may_consist_of_drawn_items_only_but_not_of_nothing():
    only_drawn = YAML.replace('  - {id: fix, type: numeric, prompt: "1 + 1?", points: 2, answer: 2}\n', "").replace(
        "questions:\n", "questions: []\n")
    assert load_exam(only_drawn, "yaml").max_points == 3
    found = problems_of(only_drawn.split("pool:")[0])
    assert found == ["line 5: questions: an exam needs at least one question (in questions, or drawn from a pool)"]


def test_option_shuffling_works_on_the_drawn_items(app, pooled):
    many = [choice(f"s{i}", "grammar", "medium") | {"options": [{"id": o, "text": o.upper(), "correct": o == "a"}
                                                               for o in "abcdefgh"]} for i in range(6)]
    pooled.exam.pool, pooled.exam.draws, pooled.exam.shuffle_options = many, [{"count": 3, "topic": "grammar"}], True
    db.session.commit()
    with app.test_request_context():
        attempts = [start_attempt(pooled.make_candidate(), pooled.exam, utcnow()) for _ in range(4)]
    orders = set()
    for attempt in attempts:
        drawn = attempt.layout["drawn"]
        assert sorted(attempt.layout["options"]) == sorted(drawn)  # an order for each drawn item, none for others
        for view in questions_for(attempt):
            if view.id in drawn:
                assert sorted(oid for oid, _ in view.options) == list("abcdefgh")
                orders.add(tuple(oid for oid, _ in view.options))
    assert len(orders) > 1  # unshuffled, all twelve would be "abcdefgh"


def test_an_upheld_appeal_regrades_the_same_drawn_items(client, app, pooled):
    from exams.appeals import decide_appeal, file_appeal
    from exams.attempts import regrade_attempt

    attempt = _released(app, pooled, 1)[0]
    drawn, seed = list(attempt.layout["drawn"]), attempt.seed
    with app.test_request_context():
        appeal = file_appeal(attempt, "Die Vokabelfrage war mehrdeutig.", utcnow())
        decide_appeal(appeal, pooled.staff, "upheld", "Wir prüfen neu.", utcnow())
        regrade_attempt(attempt)
        db.session.commit()
    db.session.refresh(attempt)
    assert (attempt.layout["drawn"], attempt.seed, attempt.max_points) == (drawn, seed, 7)
    login(client, pooled.staff)
    review = client.get(f"/staff/attempts/{attempt.id}").get_data(as_text=True)
    assert ", ".join(drawn) in review and all(f"Frage {d}?" in review for d in drawn)
    assert not any(f"Frage {q['id']}?" in review for q in POOL if q["id"] not in drawn)
