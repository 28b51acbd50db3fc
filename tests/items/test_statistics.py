"""Item analysis: figures checked against a data set computed by hand, suppression, released-only, the page."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from exams.attempts import save_answer, start_attempt, submit_attempt
from exams.grading import release_all
from exams.questions import QuestionKind, QuestionSpec
from items.statistics import ItemWarning, analyse, item_analysis
from kernel.clock import utcnow
from kernel.db import db
from tests.conftest import login

QUESTIONS = [
    {"id": "q1", "type": "single_choice", "prompt": "Hauptstadt?", "points": 1,
     "options": [{"id": "a", "text": "Berlin", "correct": True}, {"id": "b", "text": "Bonn"},
                 {"id": "c", "text": "Köln"}]},
    {"id": "q2", "type": "single_choice", "prompt": "Fluss?", "points": 1,
     "options": [{"id": "a", "text": "Rhein", "correct": True}, {"id": "b", "text": "Seine"}]},
    {"id": "q3", "type": "single_choice", "prompt": "Berg?", "points": 1,
     "options": [{"id": "a", "text": "Zugspitze", "correct": True}, {"id": "b", "text": "Mont Blanc"}]},
]
# Points per candidate (rows) and item (columns); "a" is right, "b" wrong:
#   1 1 0  (total 2)
#   1 1 1  (3)
#   1 0 1  (2)
#   0 0 1  (1)
#   0 0 0  (0)
ANSWERS = [{"q1": "a", "q2": "a", "q3": "b"}, {"q1": "a", "q2": "a", "q3": "a"}, {"q1": "a", "q2": "b", "q3": "a"},
           {"q1": "b", "q2": "b", "q3": "a"}, {"q1": "b", "q2": "b", "q3": "b"}]


@pytest.fixture
def exam_office(make_institution, make_user, make_exam) -> Any:
    """An institution with its exam office, a proctor and an exam of three single-choice items."""
    inst = make_institution("Sprachschule Nord")
    exam = make_exam(institution=inst, title="Landeskunde", questions=QUESTIONS, pass_mark_percent=50,
                     identity_check_required=False, proctoring_required=False)
    return type("Office", (), {"inst": inst, "exam": exam, "staff": make_user("staff", inst)})


def _take(app: Any, make_user: Any, office: Any, answers: dict[str, str]) -> None:
    cand = make_user("candidate", office.inst)
    with app.test_request_context():
        attempt = start_attempt(cand, office.exam, utcnow())
        for qid, value in answers.items():
            save_answer(attempt, qid, value, utcnow())
        submit_attempt(attempt, utcnow())


def _release(app: Any, office: Any) -> None:
    with app.test_request_context():
        release_all(office.staff, office.exam, utcnow())


@pytest.fixture
def analysed(app, make_user, exam_office) -> Any:
    """The five hand-computed results released, and a sixth (all wrong, an unchosen option chosen) not yet."""
    for answers in ANSWERS:
        _take(app, make_user, exam_office, answers)
    _release(app, exam_office)
    _take(app, make_user, exam_office, {"q1": "c", "q2": "b", "q3": "b"})
    return exam_office


def test_figures_match_the_hand_computation(app, analysed):
    result = item_analysis(analysed.exam)
    assert not result.suppressed and result.attempts == 5  # the unreleased sixth does not count
    q1, q2, q3 = result.items
    assert [q1.difficulty, q2.difficulty, q3.difficulty] == pytest.approx([0.6, 0.4, 0.6])
    # q1 (1,1,1,0,0) against the rest (1,2,1,1,0): deviations (.4,.4,.4,-.6,-.6) and (0,1,0,0,-1);
    # sum of products 1.0, sums of squares 1.2 and 2.0, r = 1 / sqrt(2.4).
    assert q1.discrimination == pytest.approx(1 / math.sqrt(2.4))
    # q2 (1,1,0,0,0) against (1,2,2,1,0): products sum to 0.6, squares 1.2 and 2.8: r = 0.6 / sqrt(3.36).
    assert q2.discrimination == pytest.approx(0.6 / math.sqrt(3.36))
    # q3 (0,1,1,1,0) against (2,2,1,0,0): deviations (-.6,.4,.4,.4,-.6) and (1,1,0,-1,-1); products sum to 0.
    assert q3.discrimination == pytest.approx(0.0, abs=1e-12)
    # Item variances 0.3 each (0.6 * 0.4 * 5/4); totals (2,3,2,1,0) have variance 5.2 / 4 = 1.3:
    # alpha = 3/2 * (1 - 0.9 / 1.3) = 0.6 / 1.3.
    assert result.alpha == pytest.approx(0.6 / 1.3)
    assert [(o.option_id, o.count, o.share) for o in q1.options] == [("a", 3, 0.6), ("b", 2, 0.4), ("c", 0, 0.0)]
    assert q1.warnings == (ItemWarning.OPTION_UNCHOSEN,) and q1.unchosen == ("c",)
    assert q2.warnings == () and q3.warnings == ()
    assert result.histogram == (1, 0, 0, 1, 0, 0, 2, 0, 0, 1)  # 0 %, 33 %, 67 % twice, 100 %
    assert result.mean_percent == pytest.approx(160 / 3)


def test_negative_discrimination_is_a_warning():
    questions = [QuestionSpec(f"q{i}", QuestionKind.NUMERIC, f"Frage {i}") for i in range(3)]
    # q3 (0,0,1,1,1) against the rest (2,2,1,0,0): products sum to -2.0, squares 1.2 and 4.0.
    scores = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1], [0, 0, 1], [0, 0, 1]], dtype=float)
    result = analyse(1, questions, scores, [{}, {}, {}], [5, 5, 5], min_group=5)
    assert result.items[2].discrimination == pytest.approx(-2.0 / math.sqrt(4.8))
    assert result.items[2].warnings == (ItemWarning.NEGATIVE_DISCRIMINATION,)
    # q1 against a rest that does not vary (1,1,1,1,1): no correlation, and so no warning.
    assert result.items[0].discrimination is None and result.items[0].warnings == ()


def test_fewer_than_five_released_results_show_nothing(app, client, make_user, exam_office):
    for answers in ANSWERS[:4]:
        _take(app, make_user, exam_office, answers)
    _release(app, exam_office)
    _take(app, make_user, exam_office, ANSWERS[4])  # five ended, but only four released
    result = item_analysis(exam_office.exam)
    assert result.suppressed and result.items == () and result.alpha is None
    login(client, exam_office.staff)
    page = client.get(f"/staff/exams/{exam_office.exam.id}/items").get_data(as_text=True)
    assert "Noch nicht genug freigegebene Ergebnisse: 4 von mindestens 5." in page
    assert 'id="items"' not in page and "<svg" not in page


def test_the_office_reads_it_in_german_one_click_from_the_exam(client, analysed):
    login(client, analysed.staff)
    exam_page = client.get(f"/staff/exams/{analysed.exam.id}").get_data(as_text=True)
    assert f'href="/staff/exams/{analysed.exam.id}/items" id="item-analysis-link">Itemanalyse<' in exam_page
    resp = client.get(f"/staff/exams/{analysed.exam.id}/items")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "Itemanalyse" in page and "Trennschärfe" in page and "Reliabilität (Cronbachs Alpha)" in page
    assert '<dd id="alpha">0,46</dd>' in page  # German decimal comma
    assert '<td class="difficulty">0,60</td>' in page and '<td class="discrimination">0,65</td>' in page
    assert "Köln: 0 %" in page and "Berlin (richtig): 60 %" in page
    assert "eine Option, die niemand gewählt hat" in page
    assert "option_unchosen" not in page and "single_choice" not in page
    assert ">Nr.</th>" in page and ">No.<" not in page  # every column head in German
    assert 'id="score-histogram"' in page and 'id="difficulty-discrimination"' in page
    assert "<script" not in page.split("<main", 1)[-1].split("</main>", 1)[0]


@pytest.mark.parametrize("who", ["candidate", "proctor", "other_staff"])
def test_refused_to_candidates_proctors_and_other_institutions(app, make_user, make_institution, analysed, who):
    person = (make_user("staff", make_institution("Andere Schule")) if who == "other_staff"
              else make_user(who, analysed.inst))
    client = app.test_client()
    login(client, person)
    resp = client.get(f"/staff/exams/{analysed.exam.id}/items")
    assert resp.status_code in (403, 404)
    assert "Trennschärfe" not in resp.get_data(as_text=True)
    db.session.rollback()
