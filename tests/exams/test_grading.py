"""The exam office grades free-text answers and releases results; candidates see them and may appeal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from exams.appeals import attempts_with_open_appeal
from exams.models import Answer, Appeal, AppealStatus, Attempt, AttemptEvent, Certificate
from kernel.clock import clock
from kernel.db import db
from tests.conftest import login


def _events(attempt_id: int) -> list[str]:
    return list(db.session.scalars(select(AttemptEvent.kind).where(AttemptEvent.attempt_id == attempt_id)
                                   .order_by(AttemptEvent.id)))


def _fresh(attempt_id: int) -> Attempt:
    db.session.expire_all()
    attempt = db.session.get(Attempt, attempt_id)
    assert attempt is not None
    return attempt


def test_grade_release_and_certificate(app, client, office, submitted):
    attempt = submitted()
    assert attempt.pending_manual and attempt.points == 5
    login(client, office.staff)
    queue = client.get("/staff/grading").get_data(as_text=True)
    assert f"/staff/attempts/{attempt.id}" in queue
    page = client.get(f"/staff/attempts/{attempt.id}").get_data(as_text=True)
    assert "Weil es so ist." in page
    # Releasing before grading is refused.
    assert client.post(f"/staff/attempts/{attempt.id}/release").status_code == 409
    resp = client.post(f"/staff/attempts/{attempt.id}/points", data={"question_id": "q4", "points": "4"})
    assert resp.status_code == 302
    attempt = _fresh(attempt.id)
    assert (attempt.points, attempt.max_points, attempt.pending_manual, attempt.passed) == (9, 10, False, True)
    assert db.session.scalar(select(Answer.manual_points).where(Answer.attempt_id == attempt.id,
                                                                Answer.question_id == "q4")) == 4
    assert f"/staff/attempts/{attempt.id}" not in client.get("/staff/grading").get_data(as_text=True)

    cand = app.test_client()
    login(cand, office.candidate)
    result = cand.get(f"/candidate/attempts/{attempt.id}/result").get_data(as_text=True)
    assert "9 / 10" not in result  # not released yet

    assert client.post(f"/staff/exams/{office.exam.id}/release").status_code == 302
    attempt = _fresh(attempt.id)
    assert attempt.result_released_at is not None
    cert = db.session.scalar(select(Certificate).where(Certificate.attempt_id == attempt.id))
    assert cert is not None
    # Releasing again changes nothing and issues no second certificate.
    assert client.post(f"/staff/attempts/{attempt.id}/release").status_code == 302
    assert len(db.session.scalars(select(Certificate)).all()) == 1
    result = cand.get(f"/candidate/attempts/{attempt.id}/result").get_data(as_text=True)
    assert "9 / 10" in result and 'id="request-certificate"' in result  # the certificate comes after the window
    assert {"graded", "result_released", "certificate_issued"} <= set(_events(attempt.id))
    # Points can no longer be changed after release.
    resp = client.post(f"/staff/attempts/{attempt.id}/points", data={"question_id": "q4", "points": "0"})
    assert resp.status_code == 409


def test_points_bad_input_is_400(client, office, submitted):
    attempt = submitted()
    login(client, office.staff)
    for data in [{"question_id": "q4", "points": "6"}, {"question_id": "q4", "points": "-1"},
                 {"question_id": "q4", "points": "viel"}, {"question_id": "q4"}]:
        assert client.post(f"/staff/attempts/{attempt.id}/points", data=data).status_code == 400, data
    assert client.post(f"/staff/attempts/{attempt.id}/points",
                       data={"question_id": "q1", "points": "1"}).status_code == 404
    assert client.post(f"/staff/attempts/{attempt.id}/points",
                       data={"question_id": "nope", "points": "1"}).status_code == 404


def test_failed_attempt_gets_no_certificate(client, office, submitted):
    attempt = submitted({"q1": "b", "q4": "?"})
    login(client, office.staff)
    client.post(f"/staff/attempts/{attempt.id}/points", data={"question_id": "q4", "points": "0"})
    assert client.post(f"/staff/attempts/{attempt.id}/release").status_code == 302
    attempt = _fresh(attempt.id)
    assert attempt.passed is False and attempt.result_released_at is not None
    assert db.session.scalars(select(Certificate)).all() == []


def test_other_institution_and_candidates_cannot_grade(app, client, office, submitted, make_user):
    attempt = submitted()
    other = make_user("staff")
    login(client, other)
    urls = [("get", f"/staff/attempts/{attempt.id}"), ("post", f"/staff/attempts/{attempt.id}/points"),
            ("post", f"/staff/attempts/{attempt.id}/release"), ("post", f"/staff/exams/{office.exam.id}/release"),
            ("get", f"/staff/exams/{office.exam.id}/edit"), ("get", f"/staff/exams/{office.exam.id}/export")]
    for method, url in urls:
        assert getattr(client, method)(url, data={"question_id": "q4", "points": "1"}).status_code == 404, url
    assert f"/staff/attempts/{attempt.id}" not in client.get("/staff/grading").get_data(as_text=True)
    cand = app.test_client()
    login(cand, office.candidate)
    assert cand.post(f"/staff/attempts/{attempt.id}/points",
                     data={"question_id": "q4", "points": "5"}).status_code == 403
    assert _fresh(attempt.id).pending_manual


def _released(client, office, submitted, attempt: Attempt | None = None) -> Attempt:
    attempt = attempt or submitted()
    login(client, office.staff)
    client.post(f"/staff/attempts/{attempt.id}/points", data={"question_id": "q4", "points": "5"})
    client.post(f"/staff/attempts/{attempt.id}/release")
    return _fresh(attempt.id)


def test_appeal_filed_decided_and_shown(app, client, office, submitted):
    attempt = _released(client, office, submitted)
    cand = app.test_client()
    login(cand, office.candidate)
    url = f"/candidate/attempts/{attempt.id}/appeal"
    assert cand.post(url, data={"text": "   "}).status_code == 400
    assert cand.post(url, data={"text": "Frage 4 wurde zu streng bewertet."}).status_code == 302
    assert attempts_with_open_appeal([attempt.id, 999]) == {attempt.id}
    # One open appeal at a time.
    resp = cand.post(url, data={"text": "Noch einmal."})
    assert resp.status_code == 409 and "appeal-error" in resp.get_data(as_text=True)
    appeal = db.session.scalars(select(Appeal)).one()
    assert f"/staff/attempts/{attempt.id}" in client.get("/staff/appeals").get_data(as_text=True)
    decide = f"/staff/appeals/{appeal.id}/decide"
    assert client.post(decide, data={"outcome": "upheld", "reason": ""}).status_code == 400
    assert client.post(decide, data={"outcome": "maybe", "reason": "x"}).status_code == 400
    assert client.post(decide, data={"outcome": "rejected", "reason": "Die Bewertung ist korrekt."}).status_code == 302
    assert client.post(decide, data={"outcome": "upheld", "reason": "doch"}).status_code == 409
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).status == AppealStatus.REJECTED
    assert attempts_with_open_appeal([attempt.id]) == set()
    page = cand.get(f"/candidate/attempts/{attempt.id}/result").get_data(as_text=True)
    assert "Die Bewertung ist korrekt." in page
    assert {"appeal_filed", "appeal_decided"} <= set(_events(attempt.id))
    # Decided: a new appeal is possible again within the window.
    assert cand.post(url, data={"text": "Neue Begründung."}).status_code == 302


def test_appeal_window_seven_days(app, client, office, submitted):
    attempt = _released(client, office, submitted)
    cand = app.test_client()
    login(cand, office.candidate)
    clock.advance(dt.timedelta(days=7))
    assert 'name="text"' in cand.get(f"/candidate/attempts/{attempt.id}/result").get_data(as_text=True)
    clock.advance(dt.timedelta(days=1, hours=1))
    assert 'name="text"' not in cand.get(f"/candidate/attempts/{attempt.id}/result").get_data(as_text=True)
    resp = cand.post(f"/candidate/attempts/{attempt.id}/appeal", data={"text": "Zu spät?"})
    assert resp.status_code == 409
    assert db.session.scalars(select(Appeal)).all() == []


def test_appeal_before_release_refused_and_others_cannot_decide(app, client, office, submitted, make_user):
    attempt = submitted()
    cand = app.test_client()
    login(cand, office.candidate)
    assert cand.post(f"/candidate/attempts/{attempt.id}/appeal", data={"text": "x"}).status_code == 409
    other_cand = app.test_client()
    login(other_cand, make_user("candidate", office.inst))
    assert other_cand.post(f"/candidate/attempts/{attempt.id}/appeal", data={"text": "x"}).status_code == 404
    attempt = _released(client, office, submitted, attempt)
    assert cand.post(f"/candidate/attempts/{attempt.id}/appeal", data={"text": "Bitte prüfen."}).status_code == 302
    appeal = db.session.scalars(select(Appeal)).one()
    stranger = app.test_client()
    login(stranger, make_user("staff"))
    resp = stranger.post(f"/staff/appeals/{appeal.id}/decide", data={"outcome": "upheld", "reason": "ja"})
    assert resp.status_code == 404
    assert f"/staff/attempts/{attempt.id}" not in stranger.get("/staff/appeals").get_data(as_text=True)


def test_decimal_pass_mark(client, office, submitted):
    office.exam.pass_mark_percent = Decimal("66.67")
    db.session.commit()
    # 6.5 of 10 would need rounding; 6/10 = 60 % < 66.67 % fails, 7/10 passes.
    attempt = submitted({"q1": "a", "q2": ["p2", "p3"], "q4": "…"})
    login(client, office.staff)
    client.post(f"/staff/attempts/{attempt.id}/points", data={"question_id": "q4", "points": "2"})
    assert _fresh(attempt.id).passed is False
    client.post(f"/staff/attempts/{attempt.id}/points", data={"question_id": "q4", "points": "3"})
    assert _fresh(attempt.id).passed is True
    assert _fresh(attempt.id).exam.pass_mark_percent == Decimal("66.67")


def test_new_posts_with_bad_input_are_clear_client_errors(app, client, office, submitted):
    attempt = _released(client, office, submitted)
    cand = app.test_client()
    login(cand, office.candidate)
    assert cand.post(f"/candidate/attempts/{attempt.id}/appeal", data={"text": "Bitte prüfen."}).status_code == 302
    appeal = db.session.scalars(select(Appeal)).one()
    cert = db.session.scalars(select(Certificate)).one()
    staff_posts = [f"/staff/attempts/{attempt.id}/points", f"/staff/appeals/{appeal.id}/decide",
                   f"/staff/certificates/{cert.public_id}/revoke", "/staff/exams/new",
                   f"/staff/exams/{office.exam.id}/edit"]
    for url in staff_posts:
        for data in ({}, {"points": "x" * 5000, "outcome": "x", "reason": "x" * 5000, "source": "\x00",
                          "format": "yaml", "question_id": "x" * 500}):
            resp = client.post(url, data=data)
            assert resp.status_code in (400, 404, 409), (url, data.keys(), resp.status_code)
    for data in ({}, {"text": "x" * 20_000}):
        assert cand.post(f"/candidate/attempts/{attempt.id}/appeal", data=data).status_code in (400, 409)
    assert app.test_client().post("/api/verify/credential", data=b"\xff\xfe", content_type="text/plain").json[
        "valid"] is False


def test_the_attempt_page_shows_every_answer_with_the_correct_one_and_points(app, client, office, submitted):
    """Issue 30: the page where the exam office decides an appeal showed only the free-text answers; an appeal about an
    automatically scored question could not be checked there. Now every question: answer, correct or not, points."""
    import re

    attempt = submitted({"q1": "b", "q2": ["p2", "p3"], "q3": "3,2"})
    login(client, office.staff)
    page = client.get(f"/staff/attempts/{attempt.id}", headers={"Accept-Language": "de"}).get_data(as_text=True)
    table = page.split('<table id="all-answers"', 1)[1].split("</table>", 1)[0]
    rows = {qid: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))
            for qid, body in re.findall(r'<tr data-question="(\w+)">(.*?)</tr>', table, re.DOTALL)}
    assert list(rows) == ["q1", "q2", "q3", "q4"]
    assert "Hauptstadt?" in rows["q1"] and "Bonn" in rows["q1"] and "0 / 2" in rows["q1"]
    assert "2 / 2" in rows["q2"]
    assert "3,2" in rows["q3"] and "0 / 1" in rows["q3"]
    assert "Erklären Sie." in rows["q4"]
