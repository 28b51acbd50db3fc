"""The identity check over HTTP: consent, uploads, the background job, review, gate, purge of ID images."""

from __future__ import annotations

import io
import time

import pytest
from sqlalchemy import select

from idcheck.document import TYPED
from idcheck.models import IdCheck, IdCheckStatus
from kernel.db import db
from storage.models import Blob, BlobState
from tests.conftest import login
from tests.idcheck.conftest import resized
from tests.idcheck.live import engine_delivers


@pytest.fixture
def setup(candidate_at_exam):
    _inst, exam, cand, client = candidate_at_exam
    return exam, cand, client


def wait_done(client, exam) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = client.get(f"/api/identity/{exam.id}").json
        if state["status"] != "processing":
            return state
        time.sleep(0.2)
    raise AssertionError("identity check did not finish")


def webcam(faces, name: str):
    """The photo as a 640x480 webcam frame."""
    return resized(faces / name, 640, 480)


def upload(client, exam, faces, id_name: str, selfie_name: str, *, still: bool = False) -> dict:
    """The ID photo over HTTP, then the live challenge as the media engine hands it over (a 3D head of
    ``selfie_name`` answering the drawn moves, or the photo held still); waits for the job's outcome.
    The WebRTC transport itself: tests/idcheck/test_live_challenge.py."""
    r = client.post(f"/api/identity/{exam.id}/document",
                    data={"file": (io.BytesIO((faces / id_name).read_bytes()), "id.jpg")})
    assert r.status_code == 200, r.json
    check = db.session.scalar(select(IdCheck).where(IdCheck.exam_id == exam.id))
    assert engine_delivers(check, faces, selfie_name, still=still).status == IdCheckStatus.PROCESSING
    state = wait_done(client, exam)
    db.session.rollback()  # this session read the check while the job ran: read it afresh from here on
    return state


def test_gate_consent_match_verified_and_images_purged(setup, faces):
    exam, cand, client = setup
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 409  # gate: no check yet
    assert client.post(f"/api/identity/{exam.id}/document", data={"file": (io.BytesIO(b"x"), "a.jpg")}
                       ).status_code == 409  # no biometric consent yet
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    state = upload(client, exam, faces, "obama2.jpg", "obama.jpg")
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))
    assert state["status"] == "verified", (check.auto_decision, check.distance, check.liveness_passed, check.reason)
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))
    assert check.distance < 0.45 and check.liveness_passed
    blobs = {b.category: b.state for b in db.session.scalars(select(Blob).where(Blob.user_id == cand.id))}
    assert blobs == {"id_image": BlobState.PURGED, "face_template": BlobState.COMPLETE}
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 302


def test_other_person_goes_to_review_and_a_person_decides(app, setup, faces, make_user):
    exam, cand, client = setup
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    state = upload(client, exam, faces, "biden.jpg", "obama.jpg")
    assert state["status"] == "review"  # never refused by the computer
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 409  # review blocks the start
    staff = app.test_client()
    login(staff, make_user("staff", exam.institution))
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))
    assert str(check.id) in staff.get("/review/identity").get_data(as_text=True)
    page = staff.get(f"/review/identity/{check.id}").get_data(as_text=True)
    assert 'id="distance"' in page and "0.8" in page
    assert staff.get(f"/review/identity/{check.id}/image/id").data[:2] == b"\xff\xd8"
    from privacy.rights import access_log_of

    assert [(a.what, a.why) for a in access_log_of(cand.id)] == [("id_image", "identity review")]  # audited
    assert staff.post(f"/review/identity/{check.id}/decide", data={"verified": "no", "reason": ""}).status_code == 400
    decided = staff.post(f"/review/identity/{check.id}/decide", data={"verified": "no", "reason": "Andere Person"})
    queue = staff.get(decided.headers["Location"], headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "nicht bestätigt: Die Prüfung kann nicht beginnen." in queue  # issue 30: the decision is confirmed
    state = client.get(f"/api/identity/{exam.id}").json
    assert state["status"] == "rejected" and state["decision_reason"] == "Andere Person"
    assert staff.get(f"/review/identity/{check.id}/image/id").status_code == 404  # images are gone
    other_inst = app.test_client()
    login(other_inst, make_user("staff"))
    assert other_inst.get(f"/review/identity/{check.id}").status_code == 404


def test_still_image_fails_liveness_and_goes_to_review(setup, faces):
    exam, _cand, client = setup
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    state = upload(client, exam, faces, "obama2.jpg", "obama.jpg", still=True)
    assert state["status"] == "review"


def test_unusable_selfie_asks_for_retake_with_reason(setup, faces):
    exam, _cand, client = setup
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    state = upload(client, exam, faces, "obama2.jpg", "two_people.jpg", still=True)
    assert state["status"] == "retake" and "two_faces" in state["reason"]


def test_bad_uploads_get_clear_errors(setup, faces):
    exam, _cand, client = setup
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    r = client.post(f"/api/identity/{exam.id}/document", data={"file": (io.BytesIO(b"%PDF-1.4"), "x.pdf")})
    assert r.status_code == 422 and r.json["error"]["code"] == "unusable_image"
    assert client.post(f"/api/identity/{exam.id}/document", data={}).status_code == 400
    assert client.post(f"/api/identity/{exam.id}/liveness").status_code == 409  # ID photo first
    assert client.post(f"/api/identity/{exam.id}/selfie", data={"frames": [(io.BytesIO(b"x"), "a")]}
                       ).status_code == 404  # pictures are never uploaded: the live camera only


def test_declining_biometrics_gives_the_manual_path(setup):
    exam, cand, client = setup
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "no"})
    assert client.get(f"/api/identity/{exam.id}").json["status"] == "manual"
    assert db.session.scalar(select(Blob).where(Blob.user_id == cand.id)) is None  # nothing biometric stored
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 409  # until a proctor decides


def test_identity_page_renders_each_state(setup):
    exam, _cand, client = setup
    assert "consent-yes" in client.get(f"/candidate/exams/{exam.id}/identity").get_data(as_text=True)
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    assert "selfie-start" in client.get(f"/candidate/exams/{exam.id}/identity").get_data(as_text=True)
    assert db.session.scalar(select(IdCheck)).status == IdCheckStatus.STARTED


def _td3(last: str, first: str, number: str, dob: str) -> str:
    from idcheck.mrz import check_digit as cd

    line1 = f"P<D<<{last}<<{first}".ljust(44, "<")
    n = number.ljust(9, "<")
    body = n + cd(n) + "D<<" + dob + cd(dob) + "F" + "301231" + cd("301231") + "<" * 14 + "0"
    return line1 + "\n" + body + cd(body[0:10] + body[13:20] + body[21:43])


def test_mrz_is_checked_and_compared_with_the_registration(setup, faces):
    exam, cand, client = setup  # registered as Erika Mustermann, born 1990-08-12, ID T22000129
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    photo = (faces / "obama2.jpg").read_bytes()
    good = _td3("MUSTERMANN", "ERIKA", "T22000129", "900812")
    broken = good[:-1] + str((int(good[-1]) + 1) % 10)
    r = client.post(f"/api/identity/{exam.id}/document", data={"file": (io.BytesIO(photo), "id.jpg"), "mrz": broken})
    assert r.status_code == 400 and "composite" in r.json["error"]["message"]
    r = client.post(f"/api/identity/{exam.id}/document", data={"file": (io.BytesIO(photo), "id.jpg"), "mrz": good})
    assert r.status_code == 200
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))
    assert check.document_check["mrz"] == "TD3" and check.document_check["document_number"] == "T22000129"
    assert check.document_check["differences"] == [TYPED]  # typed, not read from the photo: a person looks
    other = _td3("MEIER", "ERIKA", "T22000129", "900812")
    client.post(f"/api/identity/{exam.id}/document", data={"file": (io.BytesIO(photo), "id.jpg"), "mrz": other})
    engine_delivers(db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id)), faces, "obama.jpg")
    state = wait_done(client, exam)
    assert state["status"] == "review"  # the face matches, but the ID's name differs: a person looks
    db.session.rollback()
    assert "last name differs" in db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id)).reason


def test_the_server_prompts_one_move_at_a_time_and_a_second_start_waits(app, setup, faces):
    import datetime as dt

    from idcheck.liveness import LEAD_MS, STEP_MS
    from idcheck.verification import begin_live_challenge, live_prompt
    from kernel.clock import utcnow
    from kernel.errors import Conflict

    exam, cand, client = setup
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    client.post(f"/api/identity/{exam.id}/document",
                data={"file": (io.BytesIO((faces / "obama2.jpg").read_bytes()), "id.jpg")})
    check = db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))
    now = utcnow()
    challenge = begin_live_challenge(check, now)
    ms = dt.timedelta(milliseconds=1)
    assert live_prompt(check, now)["phase"] == "straight" and live_prompt(check, now)["move"] is None
    for i, step in enumerate(challenge.steps):  # each move only once it is asked, never a later one
        state = live_prompt(check, now + (LEAD_MS + i * STEP_MS + 100) * ms)
        assert (state["phase"], state["move"], state["step"]) == ("move", step.move, i + 1)
        assert 0 < state["ms_left"] <= STEP_MS
    assert live_prompt(check, now + (LEAD_MS + 3 * STEP_MS + 100) * ms)["phase"] == "done"
    with app.test_request_context(), pytest.raises(Conflict):  # the frames of this one are on their way
        begin_live_challenge(check, now + 2000 * ms)
    later = begin_live_challenge(check, now + (LEAD_MS + 3 * STEP_MS + 6000) * ms)
    assert later.steps[0].prompted_ms > challenge.steps[-1].deadline_ms and check.selfie_uploads == 2
    # frames of the earlier challenge arriving late are not taken for the new one
    from idcheck.verification import accept_live_frames

    assert accept_live_frames(check.id, challenge.steps[0].prompted_ms, [], utcnow()).status == IdCheckStatus.STARTED
