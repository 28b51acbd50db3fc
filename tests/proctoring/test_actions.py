"""Proctor actions during an attempt, the live grid, flags and accommodations."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from exams.models import Answer, Attempt, AttemptStatus
from kernel.clock import clock
from kernel.db import db
from proctoring.flags import add_accommodation, raise_flag
from proctoring.models import Flag, FlagKind
from tests.conftest import login, start_exam

QUESTIONS = [{"id": "q1", "type": "single_choice", "prompt": "?", "points": 1,
              "options": [{"id": "a", "text": "A", "correct": True}, {"id": "b", "text": "B"}]}]


@pytest.fixture
def live(app, make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, questions=QUESTIONS, identity_check_required=False,
                     proctoring_required=False, duration_minutes=30)
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    db.session.commit()
    cand = make_user("candidate", inst, first_name="Erika")
    candidate = app.test_client()
    login(candidate, cand)
    attempt_id = start_exam(candidate, exam.id)
    supervisor = app.test_client()
    login(supervisor, proctor)
    return {"exam": exam, "attempt_id": attempt_id, "candidate": candidate, "proctor": supervisor, "inst": inst}


def test_grid_lists_live_candidates(live):
    body = live["proctor"].get("/api/proctor/live").json
    assert [t["attempt_id"] for t in body["attempts"]] == [live["attempt_id"]]
    assert body["attempts"][0]["remaining_seconds"] > 29 * 60
    assert live["proctor"].get("/proctor/live").status_code == 200


def test_warning_reaches_the_candidate(live):
    aid = live["attempt_id"]
    assert live["proctor"].post(f"/api/proctor/attempts/{aid}/warn", json={"message": "Blick zum Bildschirm"}
                                ).status_code == 200
    notices = live["candidate"].get(f"/api/attempts/{aid}/notices?after=0").json["notices"]
    assert [(n["kind"], n["detail"]["message"]) for n in notices] == [("warning", "Blick zum Bildschirm")]
    last = notices[-1]["id"]
    assert live["candidate"].get(f"/api/attempts/{aid}/notices?after={last}").json["notices"] == []


def test_pause_stops_clock_and_answers_resume_moves_deadline(live):
    aid = live["attempt_id"]
    cand, proc = live["candidate"], live["proctor"]
    proc.post(f"/api/proctor/attempts/{aid}/pause", json={"reason": "Technik"})
    before = cand.get(f"/api/attempts/{aid}/notices").json
    assert before["paused"] is True
    resp = cand.put(f"/api/attempts/{aid}/answers/q1", json={"value": "a"})
    assert resp.status_code == 409 and resp.json["error"]["code"] == "attempt_paused"
    clock.advance(dt.timedelta(minutes=10))
    assert cand.get(f"/api/attempts/{aid}/notices").json["remaining_seconds"] == before["remaining_seconds"]
    proc.post(f"/api/proctor/attempts/{aid}/resume", json={})
    assert cand.put(f"/api/attempts/{aid}/answers/q1", json={"value": "a"}).status_code == 200
    assert abs(cand.get(f"/api/attempts/{aid}/notices").json["remaining_seconds"] - before["remaining_seconds"]) <= 2


def test_add_time_and_terminate_keep_answers(live):
    aid = live["attempt_id"]
    cand, proc = live["candidate"], live["proctor"]
    cand.put(f"/api/attempts/{aid}/answers/q1", json={"value": "a"})
    left = cand.get(f"/api/attempts/{aid}").json["remaining_seconds"]
    proc.post(f"/api/proctor/attempts/{aid}/add-time", json={"minutes": 10})
    assert cand.get(f"/api/attempts/{aid}").json["remaining_seconds"] >= left + 599
    assert proc.post(f"/api/proctor/attempts/{aid}/add-time", json={"minutes": "lots"}).status_code == 400
    assert proc.post(f"/api/proctor/attempts/{aid}/terminate", json={"reason": ""}).status_code == 400
    assert proc.post(f"/api/proctor/attempts/{aid}/terminate", json={"reason": "Fremde Hilfe"}).status_code == 200
    attempt = db.session.get(Attempt, aid)
    db.session.refresh(attempt)
    assert attempt.status == AttemptStatus.TERMINATED and attempt.points == 1
    assert db.session.scalar(select(Answer.value).where(Answer.attempt_id == aid)) == "a"
    assert cand.put(f"/api/attempts/{aid}/answers/q1", json={"value": "b"}).status_code == 409
    page = proc.get(f"/proctor/attempts/{aid}").get_data(as_text=True)
    assert "Fremde Hilfe" in page and "time_added" in page


def test_unassigned_proctor_and_other_institution_get_404(app, live, make_user, make_institution):
    aid = live["attempt_id"]
    stranger = app.test_client()
    login(stranger, make_user("proctor", live["inst"]))
    foreign = app.test_client()
    login(foreign, make_user("staff", make_institution()))
    for client in (stranger, foreign):
        assert client.get(f"/proctor/attempts/{aid}").status_code == 404
        assert client.post(f"/api/proctor/attempts/{aid}/warn", json={"message": "x"}).status_code == 404
        assert client.get("/api/proctor/live").json["attempts"] == []
    staff = app.test_client()
    login(staff, make_user("staff", live["inst"]))
    assert staff.get(f"/proctor/attempts/{aid}").status_code == 200


def test_flags_merge_and_accommodation_silences(live, make_user):
    attempt = db.session.get(Attempt, live["attempt_id"])
    now = clock.now()
    raise_flag(attempt, FlagKind.NO_FACE, now)
    raise_flag(attempt, FlagKind.NO_FACE, now + dt.timedelta(seconds=5))
    assert db.session.scalars(select(Flag)).all()[0].last_seen_at == now + dt.timedelta(seconds=5)
    add_accommodation(attempt.user_id, attempt.exam_id, FlagKind.TAB_HIDDEN, "Screen reader", make_user("staff"))
    assert raise_flag(attempt, FlagKind.TAB_HIDDEN, now) is None
    assert [f.kind for f in db.session.scalars(select(Flag))] == [FlagKind.NO_FACE]
    tile = live["proctor"].get("/api/proctor/live").json["attempts"][0]
    assert tile["open_flags"] == 1


def test_script_in_names_and_messages_is_shown_as_text(app, make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, questions=QUESTIONS, identity_check_required=False, proctoring_required=False)
    staff = make_user("staff", inst)
    evil = make_user("candidate", inst, first_name="Eve", last_name="Evil")
    evil.display_name = "<script>alert(1)</script>"
    db.session.commit()
    cand = app.test_client()
    login(cand, evil)
    aid = start_exam(cand, exam.id)
    sup = app.test_client()
    login(sup, staff)
    sup.post(f"/api/proctor/attempts/{aid}/warn", json={"message": "<img src=x onerror=alert(2)>"})
    page = sup.get(f"/proctor/attempts/{aid}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    api = sup.get("/api/proctor/live")
    # JSON is never rendered as HTML (content type + nosniff); proctor.js inserts names with textContent only
    assert api.content_type == "application/json" and api.headers["X-Content-Type-Options"] == "nosniff"
    assert api.json["attempts"][0]["candidate"] == "<script>alert(1)</script>"


def test_live_view_uses_the_configured_turn_servers(app, live):
    """The proctor's live video goes through the TURN servers the candidates' pages use (MEDIA_ICE_SERVERS):
    a proctor behind a strict firewall reaches the engine the same way."""
    import html
    import json
    import re

    turn = [{"urls": ["turn:turn.example.org:3478?transport=udp"], "username": "u", "credential": "c"}]
    app.config["MEDIA_ICE_SERVERS"] = turn
    page = live["proctor"].get(f"/proctor/attempts/{live['attempt_id']}").get_data(as_text=True)
    found = re.search(r'id="live-view" data-ice="([^"]*)"', page)
    assert found is not None and json.loads(html.unescape(found.group(1))) == turn
