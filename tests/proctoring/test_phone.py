"""The phone as the second camera: pairing links (single use, short-lived, bound to the attempt), the phone's
refusal pages, the start gate, an unsupported codec, and what the exam file says. The real phone (a mobile
Chromium) streaming into the recording: tests/proctoring/test_browser_phone.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
from sqlalchemy import select

from exams.models import Attempt, AttemptStatus
from kernel.clock import clock
from kernel.db import db
from proctoring.models import PhonePairing, SystemCheck
from storage import vault
from tests.conftest import login, start_exam


def _offer(vp8: bool = True) -> str:
    """A phone's offer as aiortc writes it: a camera that sends and an audio section that does not."""
    from aiortc import RTCPeerConnection

    async def make() -> str:
        pc = RTCPeerConnection()
        pc.addTransceiver("video", direction="sendonly")
        pc.addTransceiver("audio", direction="inactive")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        return sdp

    sdp = asyncio.run(make())
    if not vp8:  # a browser that offers H.264 alone
        sdp = "".join(line for line in sdp.splitlines(keepends=True) if " VP8/90000" not in line)
    return sdp


@pytest.fixture
def sitting(app, make_institution, make_user, make_exam):
    """A candidate of a supervised exam that requires a second camera, system check passed, logged in."""
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True, second_camera=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "Erzählen Sie.", "points": 1}])
    cand = make_user("candidate", inst)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()
    client = app.test_client()
    login(client, cand)
    return exam, cand, client


def _link(client, exam_id: int) -> str:
    resp = client.post(f"/api/exams/{exam_id}/phone/pairing")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["qr"].startswith("data:image/svg+xml;base64,")
    return str(body["link"])


def _path(link: str) -> str:
    return re.sub(r"^https?://[^/]+", "", link)


def test_a_link_works_once_and_a_new_scan_replaces_the_earlier_phone(app, sitting):
    exam, _cand, client = sitting
    link = _link(client, exam.id)
    phone = app.test_client()
    resp = phone.get(_path(link))
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/phone/camera")
    page = phone.get("/phone/camera")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Handy" in html or "phone" in html.lower()
    assert "<svg" in html  # the placement picture
    assert phone.get("/phone/state").get_json()["state"] == "waiting"

    again = app.test_client().get(_path(link))  # the same link a second time
    assert again.status_code == 410
    assert "schon benutzt" in again.get_data(as_text=True)
    assert "aufsicht_phone" not in (again.headers.get("Set-Cookie") or "")

    second = app.test_client()  # a new scan on another phone replaces the first
    assert second.get(_path(_link(client, exam.id))).status_code == 302
    gone = phone.get("/phone/state")
    assert gone.status_code == 410 and gone.get_json()["error"]["reason"] == "replaced"
    refused = phone.get("/phone/camera")
    assert refused.status_code == 410 and "anderes Handy" in refused.get_data(as_text=True)
    assert second.get("/phone/state").status_code == 200
    assert client.get(f"/api/exams/{exam.id}/phone").get_json() == {"required": True, "paired": True, "used": 2,
                                                                     "streaming": False}


def test_expired_link_and_unknown_credentials_are_refused_in_words(app, sitting):
    exam, _cand, client = sitting
    link = _link(client, exam.id)
    clock.advance(dt.timedelta(minutes=11))
    resp = app.test_client().get(_path(link))
    assert resp.status_code == 410 and "abgelaufen" in resp.get_data(as_text=True)
    assert db.session.scalar(select(PhonePairing.used_at)) is None
    bogus = app.test_client().get("/phone/pair/not-a-token")
    assert bogus.status_code == 410 and "ungültig" in bogus.get_data(as_text=True)
    stranger = app.test_client()
    assert stranger.get("/phone/camera").status_code == 410
    assert stranger.post("/phone/offer", json={"sdp": _offer()}).status_code == 410


def _attempt(exam, cand, seed: int) -> Attempt:
    attempt = Attempt(exam=exam, user=cand, started_at=clock.now(), deadline_at=clock.now() + dt.timedelta(hours=1),
                      seed=seed, layout={"questions": ["q1"], "options": {}})
    db.session.add(attempt)
    db.session.commit()
    return attempt


def test_link_of_an_ended_attempt_or_of_another_attempt_records_nothing(app, sitting):
    exam, cand, client = sitting
    first = _attempt(exam, cand, 1)
    # Two links made during the first attempt belong to it.
    ended_link, other_link = _link(client, exam.id), _link(client, exam.id)
    assert set(db.session.scalars(select(PhonePairing.attempt_id))) == {first.id}
    first.status, first.ended_at = AttemptStatus.SUBMITTED, clock.now()
    db.session.commit()
    ended = app.test_client().get(_path(ended_link))
    assert ended.status_code == 410 and "beendet" in ended.get_data(as_text=True)
    second = _attempt(exam, cand, 2)  # "Start another attempt": the first attempt's link is not for this one
    other = app.test_client().get(_path(other_link))
    assert other.status_code == 410 and "anderen Versuch" in other.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(select(PhonePairing.id).where(PhonePairing.used_at.is_not(None))) is None
    for attempt in (first, second):
        assert not vault.blobs_of(attempt_id=attempt.id, category="phone_recording")


def test_the_exam_does_not_start_until_the_phone_streams(app, sitting):
    exam, _cand, client = sitting
    resp = client.post(f"/candidate/exams/{exam.id}/start")
    assert resp.status_code == 409
    assert "Handy als zweite Kamera" in resp.get_data(as_text=True)
    assert db.session.scalar(select(Attempt.id).where(Attempt.exam_id == exam.id)) is None
    # Paired is not enough: the engine must receive its camera.
    assert app.test_client().get(_path(_link(client, exam.id))).status_code == 302
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 409


def test_an_unsupported_codec_is_refused_with_a_message(app, sitting):
    exam, _cand, client = sitting
    phone = app.test_client()
    phone.get(_path(_link(client, exam.id)))
    resp = phone.post("/phone/offer", json={"type": "offer", "sdp": _offer(vp8=False)})
    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert error["code"] == "unsupported_codec" and "VP8" in error["message"] and "Safari" in error["message"]


def test_an_exam_without_a_second_camera_makes_no_codes(app, make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False)
    cand = make_user("candidate", inst)
    client = app.test_client()
    login(client, cand)
    assert client.post(f"/api/exams/{exam.id}/phone/pairing").status_code == 409
    assert "phone-pairing" not in client.get(f"/candidate/exams/{exam.id}").get_data(as_text=True)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()
    start_exam(client, exam.id)  # no phone needed


def test_the_exam_file_and_the_pages_say_so(app, sitting):
    from exams.schema import exam_from_data, exam_to_data, schema_problems

    exam, _cand, client = sitting
    page = client.get(f"/candidate/exams/{exam.id}").get_data(as_text=True)
    assert 'id="second-camera-notice"' in page and 'id="phone-pairing"' in page
    check = client.get(f"/candidate/exams/{exam.id}/system-check").get_data(as_text=True)
    assert 'id="phone-pairing"' in check
    notice = app.test_client().get("/privacy").get_data(as_text=True)
    assert "zweiten Kamera" in notice
    data = {"title": "T", "duration_minutes": 10, "pass_mark_percent": 50, "second_camera": True,
            "window": {"opens_at": "2026-12-01T08:00:00+01:00", "closes_at": "2026-12-31T20:00:00+01:00"},
            "questions": [{"id": "q1", "type": "free_text", "prompt": "P", "points": 1}]}
    assert list(schema_problems(data)) == []
    assert exam_to_data(exam_from_data(data))["second_camera"] is True
    assert [p.path for p in schema_problems({**data, "proctoring_required": False})] == ["second_camera"]


def test_the_phone_recording_goes_with_the_webcam_recording_and_is_in_the_export(app, make_user, make_exam):
    """Same rule, same moment: the phone's part is crypto-shredded when the webcam's part is (the appeal window's
    end), with a receipt; before that the candidate's data export holds it."""
    from exams.trust import appeal_window
    from privacy.export import _files  # the export's own choice of files
    from storage.models import Blob, BlobState, PurgeReceipt
    from storage.retention import purge_expired

    exam = make_exam(second_camera=True)
    cand = make_user("candidate", exam.institution)
    now = clock.now()
    att = Attempt(exam=exam, user=cand, started_at=now - dt.timedelta(hours=1), deadline_at=now, ended_at=now,
                  status=AttemptStatus.SUBMITTED, seed=1, layout={}, result_released_at=now)
    db.session.add(att)
    db.session.commit()
    owner = {"attempt_id": att.id, "user_id": cand.id, "institution_id": exam.institution_id}
    webcam = vault.store("recording", b"webcam" * 100, content_type="video/webm", **owner)
    phone = vault.store("phone_recording", b"phone" * 100, content_type="video/webm", **owner)
    assert phone.wrapped_key and vault.read(phone) == b"phone" * 100
    assert {b.id for b in _files(cand.id)} >= {webcam.id, phone.id}
    clock.freeze(appeal_window(att).closes_at - dt.timedelta(minutes=1))
    assert purge_expired(clock.now()).shredded == 0
    clock.advance(dt.timedelta(minutes=2))
    assert purge_expired(clock.now()).shredded == 2
    db.session.expire_all()
    assert {db.session.get(Blob, b.id).state for b in (webcam, phone)} == {BlobState.PURGED}
    receipt = db.session.scalar(select(PurgeReceipt).where(PurgeReceipt.blob_id == phone.id))
    assert receipt is not None and receipt.rule == db.session.scalar(
        select(PurgeReceipt.rule).where(PurgeReceipt.blob_id == webcam.id))
