"""The room scan (issue 29), on the server: an exam that requires one shows no question and takes no answer until a
scan is completed; only the attempt's own candidate reports its steps, in order and within the time limits; a
finished attempt is refused; a proctor's request reaches the candidate's notices; a scan past its limit is a flag."""

from __future__ import annotations

import datetime as dt

import pytest

from exams.attempts import timeline
from exams.models import Attempt
from kernel.clock import clock
from kernel.db import db
from proctoring import roomscan
from proctoring.models import Flag, FlagKind, SystemCheck
from tests.conftest import login, start_exam

QUESTIONS = [{"id": "q1", "type": "single_choice", "prompt": "Zwei plus zwei?", "points": 1,
              "options": [{"id": "a", "text": "4", "correct": True}, {"id": "b", "text": "5"}]}]
STEP_KEYS = [s.key for s in roomscan.STEPS]


@pytest.fixture
def scanned(app, make_institution, make_user, make_exam):
    """A supervised exam that requires a room scan, its candidate's attempt started, and its proctor."""
    clock.freeze(dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0))
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     room_scan_required=True, questions=QUESTIONS)
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    cand = make_user("candidate", inst)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()
    client = app.test_client()
    login(client, cand)
    proctor_client = app.test_client()
    login(proctor_client, proctor)
    yield {"client": client, "proctor_client": proctor_client, "attempt_id": start_exam(client, exam.id),
           "exam": exam, "proctor": proctor, "inst": inst}
    clock.reset()


def _scan(client, aid: int) -> dict:
    """Begin and walk a whole scan through the API, each step shown for the minimum time."""
    resp = client.post(f"/api/attempts/{aid}/room-scan", json={"action": "begin"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    for key in STEP_KEYS:
        clock.advance(dt.timedelta(seconds=roomscan.MIN_STEP_SECONDS))
        resp = client.post(f"/api/attempts/{aid}/room-scan", json={"step": key})
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
    return body


def test_the_exam_does_not_start_until_the_room_scan_is_done(scanned):
    client, aid = scanned["client"], scanned["attempt_id"]
    page = client.get(f"/candidate/attempts/{aid}").get_data(as_text=True)
    assert 'id="room-scan"' in page and 'data-question="q1"' not in page
    assert "Bitte schließen Sie zuerst den Raumscan ab" in page
    refused = client.put(f"/api/attempts/{aid}/answers/q1", json={"value": "a"})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "gate_not_passed"
    state = client.get(f"/api/attempts/{aid}/room-scan").get_json()
    assert state["due"] == "before_start" and not state["running"]

    # steps out of order, or before the scan began, or shown too briefly, are refused
    assert client.post(f"/api/attempts/{aid}/room-scan", json={"step": "room"}).status_code == 409
    assert client.post(f"/api/attempts/{aid}/room-scan", json={"action": "begin"}).status_code == 200
    assert client.post(f"/api/attempts/{aid}/room-scan", json={"step": "room"}).status_code == 409  # at once
    clock.advance(dt.timedelta(seconds=roomscan.MIN_STEP_SECONDS))
    assert client.post(f"/api/attempts/{aid}/room-scan", json={"step": "desk"}).status_code == 400
    assert client.put(f"/api/attempts/{aid}/answers/q1", json={"value": "a"}).status_code == 409

    deadline_before = db.session.get(Attempt, aid).deadline_at
    for key in STEP_KEYS:
        resp = client.post(f"/api/attempts/{aid}/room-scan", json={"step": key})
        assert resp.status_code == 200, resp.get_json()
        clock.advance(dt.timedelta(seconds=roomscan.MIN_STEP_SECONDS))
    assert resp.get_json()["due"] is None and not resp.get_json()["running"]
    assert client.put(f"/api/attempts/{aid}/answers/q1", json={"value": "a"}).status_code == 200
    assert 'data-question="q1"' in client.get(f"/candidate/attempts/{aid}").get_data(as_text=True)
    db.session.expire_all()
    attempt = db.session.get(Attempt, aid)
    # the exam's time runs from the completed scan: what the scan took is given back
    assert attempt.deadline_at - deadline_before == dt.timedelta(seconds=roomscan.MIN_STEP_SECONDS * 4)
    kinds = [e.kind for e in timeline(attempt)]
    assert kinds[kinds.index("room_scan_started"):kinds.index("room_scan_completed") + 1] == [
        "room_scan_started", "room_scan_step_room", "room_scan_step_desk", "room_scan_step_floor",
        "room_scan_step_screen_edges", "room_scan_completed"]


def test_scan_steps_come_only_from_the_attempts_own_candidate(scanned, app, make_user):
    aid = scanned["attempt_id"]
    other = app.test_client()
    login(other, make_user("candidate", scanned["inst"]))
    assert other.post(f"/api/attempts/{aid}/room-scan", json={"action": "begin"}).status_code == 404
    assert other.get(f"/api/attempts/{aid}/room-scan").status_code == 404
    # the proctor may ask for a scan and read its state, never report a step
    pc = scanned["proctor_client"]
    assert pc.post(f"/api/attempts/{aid}/room-scan", json={"action": "begin"}).status_code in (403, 404)
    stranger = app.test_client()
    login(stranger, make_user("proctor", scanned["inst"]))  # not assigned to this exam
    assert stranger.post(f"/api/proctor/attempts/{aid}/room-scan", json={}).status_code == 404
    assert not [e for e in timeline(db.session.get(Attempt, aid)) if e.kind.startswith("room_scan")]


def test_a_finished_attempt_is_refused(scanned):
    client, aid = scanned["client"], scanned["attempt_id"]
    assert client.post(f"/api/attempts/{aid}/submit").status_code == 200
    resp = client.post(f"/api/attempts/{aid}/room-scan", json={"action": "begin"})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "attempt_closed"
    assert scanned["proctor_client"].post(f"/api/proctor/attempts/{aid}/room-scan", json={}).status_code == 409


def test_a_proctor_asks_again_and_the_candidates_page_is_told(scanned):
    client, aid, pc = scanned["client"], scanned["attempt_id"], scanned["proctor_client"]
    _scan(client, aid)
    assert pc.get(f"/api/proctor/attempts/{aid}/room-scan").get_json()["label"] is None
    asked = pc.post(f"/api/proctor/attempts/{aid}/room-scan", json={})
    assert asked.status_code == 200 and asked.get_json()["due"] == "requested"
    assert asked.get_json()["label"] == "Raumscan angefordert"
    notices = client.get(f"/api/attempts/{aid}/notices").get_json()["notices"]
    assert [n["kind"] for n in notices] == ["room_scan_requested"]
    # asking twice while one is due adds nothing
    pc.post(f"/api/proctor/attempts/{aid}/room-scan", json={})
    assert len(client.get(f"/api/attempts/{aid}/notices").get_json()["notices"]) == 1
    # answers still save meanwhile (the page covers the exam; nothing typed is lost)
    assert client.put(f"/api/attempts/{aid}/answers/q1", json={"value": "b"}).status_code == 200
    client.post(f"/api/attempts/{aid}/room-scan", json={"action": "begin"})
    assert pc.get(f"/api/proctor/attempts/{aid}/room-scan").get_json()["label"] == "Raumscan läuft"
    tiles = pc.get("/api/proctor/live").get_json()["attempts"]
    assert [t["room_scan"] for t in tiles if t["attempt_id"] == aid] == ["Raumscan läuft"]
    deadline_before = db.session.get(Attempt, aid).deadline_at
    for key in STEP_KEYS:
        clock.advance(dt.timedelta(seconds=roomscan.MIN_STEP_SECONDS))
        assert client.post(f"/api/attempts/{aid}/room-scan", json={"step": key}).status_code == 200
    db.session.expire_all()
    assert db.session.get(Attempt, aid).deadline_at - deadline_before == dt.timedelta(
        seconds=roomscan.MIN_STEP_SECONDS * 4)  # from the request to the end: given back
    assert pc.get(f"/api/proctor/attempts/{aid}/room-scan").get_json()["proctor_state"] is None


def test_a_scan_past_its_time_limit_is_a_flag_for_a_person(scanned):
    client, aid = scanned["client"], scanned["attempt_id"]
    client.post(f"/api/attempts/{aid}/room-scan", json={"action": "begin"})
    clock.advance(dt.timedelta(seconds=roomscan.STEPS[0].seconds + roomscan.GRACE_SECONDS + 1))
    resp = client.post(f"/api/attempts/{aid}/room-scan", json={"step": "room"})
    assert resp.status_code == 409
    assert "Zeit für den Raumscan ist abgelaufen" in resp.get_json()["error"]["message"]
    flags = db.session.query(Flag).filter_by(attempt_id=aid).all()
    assert [f.kind for f in flags] == [FlagKind.ROOM_SCAN_INCOMPLETE]
    # still required: the candidate begins again, and the exam starts after a completed scan
    assert client.get(f"/api/attempts/{aid}/room-scan").get_json()["due"] == "before_start"
    _scan(client, aid)
    assert client.put(f"/api/attempts/{aid}/answers/q1", json={"value": "a"}).status_code == 200


def test_a_request_not_begun_in_time_is_flagged_once_by_the_job(scanned, app):
    from proctoring.jobs import expire_room_scans

    client, aid, pc = scanned["client"], scanned["attempt_id"], scanned["proctor_client"]
    _scan(client, aid)
    pc.post(f"/api/proctor/attempts/{aid}/room-scan", json={})
    assert expire_room_scans() == 0
    clock.advance(dt.timedelta(seconds=roomscan.START_WITHIN_SECONDS + roomscan.GRACE_SECONDS + 1))
    expire_room_scans()
    expire_room_scans()
    assert [f.kind for f in db.session.query(Flag).filter_by(attempt_id=aid)] == [FlagKind.ROOM_SCAN_INCOMPLETE]
    assert [e.kind for e in timeline(db.session.get(Attempt, aid))].count("room_scan_timed_out") == 1
    assert client.get(f"/api/attempts/{aid}/room-scan").get_json()["due"] == "requested"  # still asked for


def test_an_exam_without_room_scans_asks_for_none(app, make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True, questions=QUESTIONS)
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    cand = make_user("candidate", inst)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()
    client = app.test_client()
    login(client, cand)
    aid = start_exam(client, exam.id)
    page = client.get(f"/candidate/attempts/{aid}").get_data(as_text=True)
    assert 'id="room-scan"' not in page and 'data-question="q1"' in page
    pc = app.test_client()
    login(pc, proctor)
    assert pc.post(f"/api/proctor/attempts/{aid}/room-scan", json={}).status_code == 409
    assert 'id="room-scan-request"' not in pc.get(f"/proctor/attempts/{aid}").get_data(as_text=True)


def test_the_exam_page_system_check_and_privacy_notice_say_so(scanned, app):
    client, exam = scanned["client"], scanned["exam"]
    page = client.get(f"/candidate/exams/{exam.id}").get_data(as_text=True)
    assert 'id="room-scan-notice"' in page
    assert 'id="room-scan-system-notice"' in client.get(f"/candidate/exams/{exam.id}/system-check").get_data(
        as_text=True)
    assert "Raumscan" in app.test_client().get("/privacy").get_data(as_text=True)


def test_the_exam_file_carries_the_setting():
    from exams.schema import exam_to_data, load_exam

    text = """
title: Raum
duration_minutes: 30
window: {opens_at: "2026-12-01T08:00:00+01:00", closes_at: "2026-12-31T20:00:00+01:00"}
pass_mark_percent: 50
room_scan_required: true
questions:
  - {id: q1, type: free_text, prompt: "Warum?", points: 1}
"""
    spec = load_exam(text, "yaml")
    assert spec.room_scan_required and exam_to_data(spec)["room_scan_required"] is True
    assert not load_exam(text.replace("room_scan_required: true\n", ""), "yaml").room_scan_required
    from exams.schema import ExamImportError

    with pytest.raises(ExamImportError, match="supervised"):
        load_exam(text + "proctoring_required: false\n", "yaml")
