"""The candidate's session ends while the attempt runs: saving says "log in again" (401), never 500 and never a
CSRF error the page would take as a refused answer; after logging in the attempt resumes with every answer.

CSRF protection is on here, as in production: the page's token dies with the session it belongs to.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner
from sqlalchemy import select

from exams.models import Answer, Attempt, AttemptStatus
from kernel.clock import clock
from kernel.db import db
from tests.conftest import PASSWORD, csrf_from
from tests.hostile.conftest import QUESTIONS


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Production-like: CSRF on; sessions live eight hours (the default)."""
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def exam(make_exam, make_institution):
    """An open, unsupervised exam with a choice and a free-text question."""
    return make_exam(institution=make_institution(), questions=QUESTIONS, duration_minutes=60,
                     identity_check_required=False, proctoring_required=False)


def log_in(client: FlaskClient, user: Any, next_url: str | None = None) -> Any:
    """Log in through the real form, CSRF token included."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", query_string={"next": next_url} if next_url else None,
                       data={"email": user.email, "password": PASSWORD, "csrf_token": token})


def start(client: FlaskClient, exam: Any) -> tuple[int, str]:
    """Start the attempt from the exam page; returns its id and the exam page's CSRF token."""
    token = csrf_from(client.get(f"/candidate/exams/{exam.id}").get_data(as_text=True))
    resp = client.post(f"/candidate/exams/{exam.id}/start", data={"csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    attempt_id = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    page = client.get(f"/candidate/attempts/{attempt_id}").get_data(as_text=True)
    return attempt_id, csrf_from(page)


def next_of(resp: Any) -> str | None:
    """The ``next`` target of a redirect to the login page."""
    values = parse_qs(urlsplit(resp.headers["Location"]).query).get("next")
    return values[0] if values else None


def save(client: FlaskClient, attempt_id: int, qid: str, value: Any, token: str) -> Any:
    """What exam.js sends for one answer."""
    return client.put(f"/api/attempts/{attempt_id}/answers/{qid}", json={"value": value},
                      headers={"X-CSRFToken": token, "Accept": "application/json"})


@pytest.fixture
def running(app: Flask, exam, make_user) -> dict[str, Any]:
    """A candidate in the middle of the exam with one answer saved."""
    cand = make_user("candidate", exam.institution)
    client = app.test_client()
    assert log_in(client, cand).status_code == 302
    attempt_id, token = start(client, exam)
    assert save(client, attempt_id, "q1", "a", token).status_code == 200
    return {"client": client, "cand": cand, "attempt_id": attempt_id, "token": token}


def clear_cookie(app: Flask, r: dict[str, Any]) -> None:
    """The browser dropped the session cookie."""
    r["client"].delete_cookie("session", domain=app.config["SERVER_NAME"])


def log_out_elsewhere(app: Flask, r: dict[str, Any]) -> None:
    """"Log out everywhere" from another device."""
    other = app.test_client()
    assert log_in(other, r["cand"]).status_code == 302
    token = csrf_from(other.get("/candidate/").get_data(as_text=True))
    assert other.post("/logout-everywhere", data={"csrf_token": token}).status_code == 302


@pytest.fixture(params=["cookie_cleared", "lifetime_over", "logged_out_elsewhere"])
def expire(request, app, monkeypatch) -> Any:
    """Three ways a session ends mid-exam."""
    def lifetime_over(_app: Flask, _r: dict[str, Any]) -> None:
        # The signed cookie is older than PERMANENT_SESSION_LIFETIME: move the signer's clock past it.
        later = TimestampSigner.get_timestamp(TimestampSigner(b"k")) + int(
            app.permanent_session_lifetime.total_seconds()) + 60
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)

    return {"cookie_cleared": clear_cookie, "lifetime_over": lifetime_over,
            "logged_out_elsewhere": log_out_elsewhere}[request.param]


def test_saving_after_the_session_ended_asks_to_log_in_and_nothing_is_lost(app, running, expire):
    client, attempt_id, token = running["client"], running["attempt_id"], running["token"]
    expire(app, running)

    resp = save(client, attempt_id, "q2", "Meine lange Antwort", token)
    assert resp.status_code == 401, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json" and resp.json["error"]["code"] == "login_required"
    assert resp.json["error"]["message"]
    page = client.get(f"/candidate/attempts/{attempt_id}")
    assert page.status_code == 302 and "/login" in page.headers["Location"]

    # Logging in again (through the link the exam page redirected to) lands on the running attempt.
    back = log_in(client, running["cand"], next_url=next_of(page))
    assert back.status_code == 302 and back.headers["Location"].endswith(f"/candidate/attempts/{attempt_id}")
    html = client.get(f"/candidate/attempts/{attempt_id}").get_data(as_text=True)
    assert 'value="a" checked' in html  # the answer saved before the session ended
    # exam.js kept the refused answer and sends it again with the new page's token
    assert save(client, attempt_id, "q2", "Meine lange Antwort", csrf_from(html)).status_code == 200
    db.session.rollback()
    attempt = db.session.get(Attempt, attempt_id)
    assert attempt is not None and attempt.status == AttemptStatus.IN_PROGRESS
    answers = {a.question_id: a.value for a in db.session.scalars(select(Answer).where(Answer.attempt_id ==
                                                                                         attempt_id))}
    assert answers == {"q1": "a", "q2": "Meine lange Antwort"}


def test_the_login_message_follows_the_language(app, running):
    """The 401 text is shown by exam.js as is: it must be in the candidate's language like the rest of the UI."""
    clear_cookie(app, running)
    msgs = {}
    for lang in ("de", "en"):
        resp = running["client"].put(f"/api/attempts/{running['attempt_id']}/answers/q1", json={"value": "b"},
                                     headers={"X-CSRFToken": running["token"], "Accept-Language": lang})
        assert resp.status_code == 401
        msgs[lang] = resp.json["error"]["message"]
    assert msgs["de"] != msgs["en"]


def test_submitting_the_form_after_the_session_ended_submits_nothing(app, running):
    client, attempt_id = running["client"], running["attempt_id"]
    clear_cookie(app, running)
    resp = client.post(f"/candidate/attempts/{attempt_id}/submit", data={"csrf_token": running["token"]},
                       headers={"Referer": f"http://aufsicht.test/candidate/attempts/{attempt_id}"})
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    db.session.rollback()
    assert db.session.get(Attempt, attempt_id).status == AttemptStatus.IN_PROGRESS
    # after logging in the candidate is back on the exam page, not on a GET of the POST-only submit URL (405)
    back = log_in(client, running["cand"], next_url=next_of(resp))
    assert back.status_code == 302 and back.headers["Location"].endswith(f"/candidate/attempts/{attempt_id}")
    assert client.get(back.headers["Location"]).status_code == 200


def test_a_long_exam_still_saves_after_the_first_hour(app, make_exam, make_institution, make_user, monkeypatch):
    """The exam page's CSRF token must not expire before the exam does (it lives as long as the session)."""
    exam = make_exam(institution=make_institution(), questions=QUESTIONS, duration_minutes=120,
                     identity_check_required=False, proctoring_required=False)
    cand = make_user("candidate", exam.institution)
    client = app.test_client()
    log_in(client, cand)
    attempt_id, token = start(client, exam)
    later = TimestampSigner.get_timestamp(TimestampSigner(b"k")) + 65 * 60
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    clock.advance(dt.timedelta(minutes=65))
    resp = save(client, attempt_id, "q2", "Nach über einer Stunde", token)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert 50 * 60 < resp.json["remaining_seconds"] <= 55 * 60


def test_a_token_of_an_earlier_session_is_named_so_the_page_can_renew_it(app, running):
    """Logged in again after the cookie was lost: the open page's token is stale. The answer is refused with
    its own code (exam.js then fetches the current token and resends, see test_browser_session.py)."""
    client, attempt_id = running["client"], running["attempt_id"]
    clear_cookie(app, running)
    assert log_in(client, running["cand"]).status_code == 302
    resp = save(client, attempt_id, "q2", "Später", running["token"])
    assert resp.status_code == 400 and resp.json["error"]["code"] == "csrf_invalid"
    fresh = csrf_from(client.get(f"/candidate/attempts/{attempt_id}").get_data(as_text=True))
    assert save(client, attempt_id, "q2", "Später", fresh).status_code == 200
