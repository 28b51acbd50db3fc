"""The check by a proctor over HTTP: the queue, who may decide, the decision and its effect on the start."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from accounts.models import ConsentRecord
from idcheck.models import IdCheck, IdCheckStatus
from kernel.db import db
from privacy.settings import update_settings
from tests.conftest import login


@pytest.fixture
def waiting(app, make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=True, proctoring_required=False,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    db.session.commit()
    cand = make_user("candidate", inst)
    client = app.test_client()
    login(client, cand)
    p = app.test_client()
    login(p, proctor)
    assert client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "no"}).status_code == 302
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))
    return exam, cand, client, proctor, p, check


def test_waiting_candidate_is_in_the_queue_and_cannot_start(waiting):
    exam, cand, client, _proctor, p, check = waiting
    resp = client.post(f"/candidate/exams/{exam.id}/start")
    assert resp.status_code == 409 and "Ihr Gesicht noch mit Ihrem Ausweis" in resp.get_data(as_text=True)
    page = client.get(f"/candidate/exams/{exam.id}/identity").get_data(as_text=True)
    assert 'id="manual-connect"' in page and "selfie-files" not in page
    assert "1 " in p.get("/proctor/").get_data(as_text=True).split('id="to-manual-queue"')[1][:120]
    items = p.get("/api/proctor/identity").json["checks"]
    assert [(c["check_id"], c["candidate"], c["connected"]) for c in items] == [(check.id, cand.display_name, False)]
    page = p.get(f"/proctor/identity/{check.id}").get_data(as_text=True)
    assert "Mustermann" in page and "T22000129" in page and 'id="watch"' in page


def test_confirmed_by_the_proctor_unlocks_the_exam(waiting):
    exam, _cand, client, proctor, p, check = waiting
    assert p.post(f"/proctor/identity/{check.id}/decide", data={"confirmed": "yes", "reason": ""}).status_code == 400
    resp = p.post(f"/proctor/identity/{check.id}/decide", data={"confirmed": "yes", "reason": "Ausweis passt"})
    assert resp.status_code == 302
    # issue 30: the queue the proctor returns to confirms the decision, naming the candidate
    queue = p.get(resp.headers["Location"], headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert f"Identität von {_cand.display_name} bestätigt: Die Prüfung kann beginnen." in queue
    db.session.expire_all()
    check = db.session.get(IdCheck, check.id)
    assert check.status == IdCheckStatus.VERIFIED and check.decided_by_id == proctor.id
    assert check.decided_at is not None and check.biometric is False and check.decision_reason == "Ausweis passt"
    assert p.get("/api/proctor/identity").json["checks"] == []
    assert p.post(f"/proctor/identity/{check.id}/decide",
                  data={"confirmed": "no", "reason": "doch nicht"}).status_code == 409  # decided is decided
    assert client.get(f"/api/identity/{exam.id}").json["status"] == "verified"
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 302


def test_not_confirmed_blocks_the_exam_for_good(waiting):
    exam, _cand, client, proctor, p, check = waiting
    resp = p.post(f"/proctor/identity/{check.id}/decide", data={"confirmed": "no", "reason": "Gesicht passt nicht"})
    queue = p.get(resp.headers["Location"], headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert f"Identität von {_cand.display_name} nicht bestätigt: Die Prüfung kann nicht beginnen." in queue
    db.session.expire_all()
    check = db.session.get(IdCheck, check.id)
    assert check.status == IdCheckStatus.REJECTED and check.decided_by_id == proctor.id and not check.biometric
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 409
    assert client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "no"}).status_code == 409
    assert client.get(f"/api/identity/{exam.id}").json["decision_reason"] == "Gesicht passt nicht"


def test_only_the_exams_proctors_and_staff_decide(app, waiting, make_user):
    exam, _cand, client, _proctor, _p, check = waiting
    other = app.test_client()
    login(other, make_user("proctor", exam.institution))  # same institution, not assigned
    foreign = app.test_client()
    login(foreign, make_user("staff"))  # another institution
    for c in (other, foreign):
        assert c.get(f"/proctor/identity/{check.id}").status_code == 404
        assert c.post(f"/proctor/identity/{check.id}/decide", data={"confirmed": "yes", "reason": "x"}
                      ).status_code == 404
        assert c.post(f"/api/proctor/identity/{check.id}/live/offer", json={"sdp": "v=0"}).status_code == 404
    assert other.get("/api/proctor/identity").json["checks"] == []
    assert client.get(f"/proctor/identity/{check.id}").status_code in (302, 403, 404)  # a candidate: never
    staff = app.test_client()
    login(staff, make_user("staff", exam.institution))
    assert [c["check_id"] for c in staff.get("/api/proctor/identity").json["checks"]] == [check.id]
    home = staff.get("/staff/").get_data(as_text=True)
    assert "(1 " in home.split('id="to-manual-queue"')[1][:150]  # the exam office sees the count at home too
    db.session.expire_all()
    assert db.session.get(IdCheck, check.id).status == IdCheckStatus.MANUAL


def test_institution_without_face_matching_goes_straight_to_the_proctor(app, make_institution, make_user, make_exam):
    inst = make_institution()
    update_settings(inst.id, role="processor", recording=True, biometric_matching=False, appeal_window_days=7)
    exam = make_exam(institution=inst, identity_check_required=True, proctoring_required=False)
    cand = make_user("candidate", inst)
    client = app.test_client()
    login(client, cand)
    page = client.get(f"/candidate/exams/{exam.id}/identity").get_data(as_text=True)
    assert 'id="manual-start"' in page and "consent-yes" not in page
    assert client.post(f"/candidate/exams/{exam.id}/identity/manual").status_code == 302
    assert client.get(f"/api/identity/{exam.id}").json["status"] == "manual"
    # nobody declined anything: no consent refusal is recorded for the candidate
    assert db.session.scalar(select(ConsentRecord).where(ConsentRecord.user_id == cand.id,
                                                    ConsentRecord.kind == "biometrics")) is None


def test_consent_withdrawn_during_review_goes_to_the_proctor_with_the_automatic_result(app, make_institution,
                                                                                       make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=True, proctoring_required=False)
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    cand = make_user("candidate", inst)
    check = IdCheck(user_id=cand.id, exam_id=exam.id, status=IdCheckStatus.REVIEW, biometric=True,
                    reason="faces differ: a person will review")
    db.session.add(check)
    db.session.commit()
    client = app.test_client()
    login(client, cand)
    assert client.post("/candidate/consent/biometrics", data={"granted": "no"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(IdCheck, check.id).status == IdCheckStatus.MANUAL
    p = app.test_client()
    login(p, proctor)
    notes = p.get(f"/proctor/identity/{check.id}").get_data(as_text=True).split('id="manual-notes"')[1][:200]
    assert "Gesichter unterscheiden sich" in notes  # the proctor knows the automatic result was doubtful (in words)
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 409
