"""An exam office with released results: two candidates released (a pass verified by a person, a fail), one held."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from exams.attempts import save_answer, start_attempt, submit_attempt
from exams.grading import give_points, release_all
from exams.models import Attempt
from kernel.clock import utcnow
from kernel.db import db

QUESTIONS = [
    {"id": "q1", "type": "single_choice", "prompt": "Hauptstadt?", "points": 2,
     "options": [{"id": "a", "text": "Berlin", "correct": True}, {"id": "b", "text": "Bonn"}]},
    {"id": "q2", "type": "multiple_choice", "prompt": "Primzahlen?", "points": 2,
     "options": [{"id": "p2", "text": "2", "correct": True}, {"id": "p3", "text": "3", "correct": True},
                 {"id": "p4", "text": "4"}]},
    {"id": "q3", "type": "numeric", "prompt": "Pi?", "points": 1, "answer": 3.14, "tolerance": 0.01},
    {"id": "q4", "type": "free_text", "prompt": "Erklären Sie.", "points": 5},
]
RIGHT = {"q1": "a", "q2": ["p2", "p3"], "q3": "3.14", "q4": "Weil es so ist."}
WRONG = {"q1": "b", "q2": ["p2"], "q3": "3"}


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Webhook retries after 60 s, doubling (the default), at most three tries."""
    return {"WEBHOOK_MAX_ATTEMPTS": 3}


@pytest.fixture
def office(make_institution, make_user, make_exam) -> Any:
    """An institution with its exam office and an exam of four item types (one graded by hand)."""
    inst = make_institution("Sprachschule Süd")
    exam = make_exam(institution=inst, title="Deutsch B1", questions=QUESTIONS, pass_mark_percent=60,
                     identity_check_required=False, proctoring_required=False)
    return type("Office", (), {"inst": inst, "exam": exam, "staff": make_user("staff", inst)})


@pytest.fixture
def take(app, office, make_user) -> Callable[..., Attempt]:
    """A new candidate of the office takes the exam with ``answers`` and submits it."""

    def run(answers: dict[str, Any], **profile: Any) -> Attempt:
        cand = make_user("candidate", office.inst, **profile)
        with app.test_request_context():
            attempt = start_attempt(cand, office.exam, utcnow())
            for qid, value in answers.items():
                save_answer(attempt, qid, value, utcnow())
            submit_attempt(attempt, utcnow())
        db.session.refresh(attempt)
        return attempt

    return run


@pytest.fixture
def released(app, office, take) -> Any:
    """Erika passes (9 of 10, her identity verified by a person), Max fails (0), Hans waits for his free text."""
    from idcheck.models import IdCheck, IdCheckStatus

    erika = take(RIGHT, first_name="Erika", last_name="Mustermann")
    maxi = take(WRONG, first_name="Max", last_name="Muster")
    hans = take(RIGHT, first_name="Hans", last_name="Wartend")
    db.session.add(IdCheck(user_id=erika.user_id, exam_id=office.exam.id, status=IdCheckStatus.VERIFIED,
                           biometric=False, decided_by_id=office.staff.id, decided_at=utcnow()))
    db.session.commit()
    with app.test_request_context():
        give_points(erika, office.staff, "q4", 4, utcnow())
        report = release_all(office.staff, office.exam, utcnow())
    assert {a.id for a in report.released} == {erika.id, maxi.id}
    return type("Released", (), {"erika": erika, "max": maxi, "hans": hans})
