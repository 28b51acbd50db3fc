"""Taking an exam over HTTP: start gates, the server's deadline, autosave and resume, submit, grading."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from exams.attempts import GATES, GateNotPassed, close_expired_attempts
from exams.models import Answer, Attempt, AttemptEvent, AttemptStatus
from kernel.clock import clock
from kernel.db import db
from tests.conftest import login, start_exam

QUESTIONS = [
    {"id": "q1", "type": "single_choice", "prompt": "Hauptstadt?", "points": 2,
     "options": [{"id": "a", "text": "Berlin", "correct": True}, {"id": "b", "text": "Bonn"}]},
    {"id": "q2", "type": "multiple_choice", "prompt": "Primzahlen?", "points": 2,
     "options": [{"id": "p2", "text": "2", "correct": True}, {"id": "p3", "text": "3", "correct": True},
                 {"id": "p4", "text": "4"}]},
    {"id": "q3", "type": "numeric", "prompt": "Pi?", "points": 1, "answer": 3.14, "tolerance": 0.01},
    {"id": "q4", "type": "free_text", "prompt": "Erklären Sie.", "points": 5},
]


@pytest.fixture
def setup(make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, questions=QUESTIONS, pass_mark_percent=60, duration_minutes=30,
                     identity_check_required=False, proctoring_required=False)
    cand = make_user("candidate", inst)
    return exam, cand


def _start(client, exam) -> int:
    return start_exam(client, exam.id)


def test_full_flow_autosave_resume_and_grading(app, client, setup):
    exam, cand = setup
    login(client, cand)
    attempt_id = _start(client, exam)
    for qid, value in [("q1", "a"), ("q2", ["p3", "p2"]), ("q3", "3,141"), ("q4", "Weil.")]:
        resp = client.put(f"/api/attempts/{attempt_id}/answers/{qid}", json={"value": value})
        assert resp.status_code == 200, resp.json
        assert 0 < resp.json["remaining_seconds"] <= 30 * 60
    # The browser disappears; a new one (same account) resumes with everything filled in.
    fresh = app.test_client()
    login(fresh, cand)
    assert _start(fresh, exam) == attempt_id
    page = fresh.get(f"/candidate/attempts/{attempt_id}").get_data(as_text=True)
    assert 'value="a" checked' in page and "Weil." in page and 'value="3,141"' in page
    assert page.count("checked") == 3
    resp = fresh.post(f"/api/attempts/{attempt_id}/submit")
    assert resp.json["status"] == "submitted"
    attempt = db.session.get(Attempt, attempt_id)
    db.session.refresh(attempt)
    assert (attempt.points, attempt.max_points, attempt.pending_manual) == (5, 10, True)
    assert attempt.passed is None  # free text could still decide it
    # double submit changes nothing
    assert client.post(f"/api/attempts/{attempt_id}/submit").json["status"] == "submitted"
    kinds = [e.kind for e in db.session.scalars(select(AttemptEvent).where(AttemptEvent.attempt_id == attempt_id))]
    assert kinds == ["started", "submitted"]


def test_answers_after_the_deadline_are_refused_and_earlier_ones_stay(client, setup):
    exam, cand = setup
    login(client, cand)
    attempt_id = _start(client, exam)
    assert client.put(f"/api/attempts/{attempt_id}/answers/q1", json={"value": "a"}).status_code == 200
    clock.advance(dt.timedelta(minutes=30, seconds=1))
    late = client.put(f"/api/attempts/{attempt_id}/answers/q1", json={"value": "b"})
    assert late.status_code == 409 and late.json["error"]["code"] == "attempt_closed"
    assert client.get(f"/api/attempts/{attempt_id}").json["remaining_seconds"] == 0
    # the browser is gone: the periodic job submits at the deadline with the saved answer
    assert close_expired_attempts(clock.now()) == 1
    answer = db.session.scalar(select(Answer).where(Answer.attempt_id == attempt_id))
    assert answer.value == "a"
    attempt = db.session.get(Attempt, attempt_id)
    db.session.refresh(attempt)
    assert attempt.status == AttemptStatus.SUBMITTED and attempt.points == 2


def test_exam_page_after_deadline_shows_result_not_questions(client, setup):
    exam, cand = setup
    login(client, cand)
    attempt_id = _start(client, exam)
    clock.advance(dt.timedelta(minutes=31))
    resp = client.get(f"/candidate/attempts/{attempt_id}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/result")


@pytest.mark.parametrize(
    ("qid", "value"),
    [("q1", "zz"), ("q1", ["a"]), ("q2", "p2"), ("q2", ["nope"]), ("q3", True), ("q4", 5), ("q4", "x" * 20001)],
)
def test_malformed_answers_get_400_and_lose_nothing(client, setup, qid, value):
    exam, cand = setup
    login(client, cand)
    attempt_id = _start(client, exam)
    client.put(f"/api/attempts/{attempt_id}/answers/{qid}", json={"value": None})
    resp = client.put(f"/api/attempts/{attempt_id}/answers/{qid}", json={"value": value})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "validation_failed"
    assert client.put(f"/api/attempts/{attempt_id}/answers/nope", json={"value": "a"}).status_code == 404
    assert client.put(f"/api/attempts/{attempt_id}/answers/q1", data="{", content_type="application/json"
                      ).status_code == 400


def test_window_and_minimum_age_are_enforced(client, make_institution, make_user, make_exam):
    inst = make_institution()
    closed = make_exam(institution=inst, opens_at=clock.now() + dt.timedelta(days=1),
                       closes_at=clock.now() + dt.timedelta(days=2), proctoring_required=False,
                       identity_check_required=False)
    adult_only = make_exam(institution=inst, minimum_age=18, proctoring_required=False,
                           identity_check_required=False)
    young = make_user("candidate", inst, date_of_birth=clock.now().date().replace(year=clock.now().year - 17))
    login(client, young)
    assert client.post(f"/candidate/exams/{closed.id}/start").status_code == 409
    assert client.post(f"/candidate/exams/{adult_only.id}/start").status_code == 409
    assert db.session.scalar(select(Attempt)) is None


def test_gate_blocks_start_until_passed(client, setup):
    exam, cand = setup
    passed = {"ok": False}

    def gate(user, ex):
        if not passed["ok"]:
            raise GateNotPassed("Please finish the identity check first.", gate="identity")

    GATES.append(gate)
    try:
        login(client, cand)
        resp = client.post(f"/candidate/exams/{exam.id}/start")
        assert resp.status_code == 409 and "identity check first" in resp.get_data(as_text=True)
        passed["ok"] = True
        assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 302
    finally:
        GATES.remove(gate)


def test_another_candidate_cannot_touch_my_attempt(app, client, setup, make_user):
    exam, cand = setup
    login(client, cand)
    attempt_id = _start(client, exam)
    other = app.test_client()
    login(other, make_user("candidate", exam.institution))
    assert other.get(f"/candidate/attempts/{attempt_id}").status_code == 404
    assert other.put(f"/api/attempts/{attempt_id}/answers/q1", json={"value": "b"}).status_code == 404
    assert other.post(f"/api/attempts/{attempt_id}/submit").status_code == 404


def test_concurrent_tabs_last_answer_wins_one_row(app, client, setup):
    exam, cand = setup
    login(client, cand)
    attempt_id = _start(client, exam)
    tab2 = app.test_client()
    login(tab2, cand)
    client.put(f"/api/attempts/{attempt_id}/answers/q1", json={"value": "a"})
    tab2.put(f"/api/attempts/{attempt_id}/answers/q1", json={"value": "b"})
    rows = db.session.scalars(select(Answer).where(Answer.attempt_id == attempt_id)).all()
    assert [r.value for r in rows] == ["b"]
