"""Fixtures for the exam office tests: an institution with staff, a candidate and a submitted attempt."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from exams.attempts import save_answer, start_attempt, submit_attempt
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


@pytest.fixture
def app_config() -> dict[str, Any]:
    """No certificate emails in the background unless a test asks for them."""
    return {}


@pytest.fixture
def office(make_institution, make_user, make_exam) -> Any:
    """An institution with a staff member, a candidate and an exam with a free-text question."""
    inst = make_institution("Sprachschule Süd")
    exam = make_exam(institution=inst, title="Deutsch B1", questions=QUESTIONS, pass_mark_percent=60,
                     identity_check_required=False, proctoring_required=False)
    return type("Office", (), {"inst": inst, "exam": exam, "staff": make_user("staff", inst),
                                "candidate": make_user("candidate", inst)})


@pytest.fixture
def submitted(app, office) -> Callable[..., Attempt]:
    """Let the candidate take the exam with the given answers and submit it; returns the attempt."""

    def take(answers: dict[str, Any] | None = None, candidate: Any = None) -> Attempt:
        cand = candidate or office.candidate
        with app.test_request_context():  # messages of the services are translated per request
            attempt = start_attempt(cand, office.exam, utcnow())
            for qid, value in (answers if answers is not None else
                               {"q1": "a", "q2": ["p2", "p3"], "q3": "3.14", "q4": "Weil es so ist."}).items():
                save_answer(attempt, qid, value, utcnow())
            submit_attempt(attempt, utcnow())
        db.session.refresh(attempt)
        return attempt

    return take


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Verification counts per IP; every test starts with fresh in-process counters."""
    from app.ratelimit import reset

    reset()
