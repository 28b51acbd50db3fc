"""Decisions that hold: rejection is final, the manual path only before a decision, limited retakes, review
blocks the start; and ID images that never linger: deletion dates when stored, no EXIF, purged on withdrawal."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image
from sqlalchemy import select

from idcheck.document import TYPED
from idcheck.models import IdCheck, IdCheckStatus
from idcheck.verification import begin_live_challenge
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import Conflict
from privacy.settings import update_settings
from storage import vault
from storage.models import Blob, BlobState
from storage.retention import purge_expired
from tests.conftest import login
from tests.idcheck.live import engine_delivers
from tests.idcheck.test_flow import upload, wait_done


@pytest.fixture
def setup(app, candidate_at_exam, make_user):
    inst, exam, cand, client = candidate_at_exam
    staff = app.test_client()
    login(staff, make_user("staff", inst))
    return exam, cand, client, staff


def the_check(cand) -> IdCheck:
    db.session.expire_all()
    return db.session.scalar(select(IdCheck).where(IdCheck.user_id == cand.id))


def in_review(client, exam, faces) -> dict:
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    state = upload(client, exam, faces, "biden.jpg", "obama.jpg")
    assert state["status"] == "review"
    return state


def test_review_blocks_the_start_unless_the_institution_allows_it(setup, faces):
    exam, _cand, client, _staff = setup
    in_review(client, exam, faces)
    resp = client.post(f"/candidate/exams/{exam.id}/start")
    assert resp.status_code == 409 and "Eine Person prüft Ihre Identität" in resp.get_data(as_text=True)
    page = client.get(f"/candidate/exams/{exam.id}/identity").get_data(as_text=True)
    assert "Die Prüfung kann beginnen, sobald entschieden ist" in page
    # issue 30: with a person, the page offered upload, camera and switching still; it only says what happens now
    for control in ('id="doc-file"', 'id="selfie-start"', 'id="switch-manual"', 'id="consent-no"'):
        assert control not in page, control
    update_settings(exam.institution_id, role="processor", recording=True, biometric_matching=True,
                    appeal_window_days=7, start_during_identity_review=True)
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 302  # the institution's choice


def test_the_setting_is_on_the_privacy_settings_page(setup):
    exam, _cand, _client, staff = setup
    assert 'name="start_during_identity_review"' in staff.get("/staff/privacy").get_data(as_text=True)
    staff.post("/staff/privacy", data={"role": "processor", "recording": "on", "biometric_matching": "on",
                                       "appeal_window_days": "7", "start_during_identity_review": "on"})
    from privacy.settings import settings_for

    db.session.expire_all()
    assert settings_for(exam.institution_id).start_during_identity_review is True


def test_rejected_candidate_cannot_switch_to_manual_until_a_person_reopens(setup, faces):
    exam, cand, client, staff = setup
    in_review(client, exam, faces)
    check = the_check(cand)
    staff.post(f"/review/identity/{check.id}/decide", data={"verified": "no", "reason": "Andere Person"})
    assert the_check(cand).status == IdCheckStatus.REJECTED
    resp = client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "no"})
    assert resp.status_code == 409
    assert the_check(cand).status == IdCheckStatus.REJECTED  # not MANUAL: no walking in past the rejection
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 409
    assert client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"}).status_code == 302
    assert the_check(cand).status == IdCheckStatus.REJECTED  # consenting again does not reopen it either
    r = client.post(f"/api/identity/{exam.id}/document", data={"file": (io.BytesIO((faces / "obama2.jpg")
                                                                                   .read_bytes()), "id.jpg")})
    assert r.status_code == 409
    page = client.get(f"/candidate/exams/{exam.id}/identity").get_data(as_text=True)
    assert 'data-status="rejected"' in page and "Andere Person" in page and "consent-no" not in page
    assert staff.post(f"/review/identity/{check.id}/reopen", data={"reason": ""}).status_code == 400
    staff.post(f"/review/identity/{check.id}/reopen", data={"reason": "Zweitausweis vorgelegt"})
    check = the_check(cand)
    assert check.status == IdCheckStatus.STARTED and check.decided_at is None and check.decided_by_id is None
    assert "Zweitausweis vorgelegt" in check.reason and "Andere Person" in check.reason
    assert client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "no"}).status_code == 302
    assert the_check(cand).status == IdCheckStatus.MANUAL


def test_manual_only_before_any_decision(setup, faces):
    exam, cand, client, _staff = setup
    in_review(client, exam, faces)  # a person is about to decide: the candidate cannot dodge it
    assert client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "no"}).status_code == 409
    assert the_check(cand).status == IdCheckStatus.REVIEW
    check = the_check(cand)
    check.status = IdCheckStatus.VERIFIED
    db.session.commit()
    assert client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "no"}).status_code == 409
    assert the_check(cand).status == IdCheckStatus.VERIFIED


def test_switching_to_manual_before_a_decision_deletes_the_photos(setup, faces):
    exam, cand, client, _staff = setup
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    client.post(f"/api/identity/{exam.id}/document",
                data={"file": (io.BytesIO((faces / "obama2.jpg").read_bytes()), "id.jpg")})
    photo = the_check(cand).id_image_blob_id
    assert client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "no"}).status_code == 302
    check = the_check(cand)
    assert check.status == IdCheckStatus.MANUAL and check.id_image_blob_id is None
    assert db.session.get(Blob, photo).state == BlobState.PURGED


@pytest.mark.parametrize("app_config", [{"IDCHECK_MAX_RETAKES": 1}])
def test_retakes_are_limited_and_the_last_goes_to_a_person(app, setup, faces):
    exam, cand, client, _staff = setup
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    state = upload(client, exam, faces, "obama2.jpg", "two_people.jpg", still=True)
    assert state["status"] == "retake" and state["retakes_left"] == 1
    assert engine_delivers(the_check(cand), faces, "two_people.jpg", still=True).status == IdCheckStatus.PROCESSING
    state = wait_done(client, exam)
    assert state["status"] == "review" and state["retakes_left"] == 0  # never refused by the computer
    assert "no retakes left" in the_check(cand).reason
    kept = the_check(cand)
    blobs = (kept.id_image_blob_id, kept.selfie_blob_id, kept.frames_blob_id)
    # a retake while a person reviews: refused, and the photos under review stay
    r = client.post(f"/api/identity/{exam.id}/liveness")
    assert r.status_code == 409
    with app.test_request_context(), pytest.raises(Conflict):
        begin_live_challenge(the_check(cand), utcnow())
    r = client.post(f"/api/identity/{exam.id}/document",
                    data={"file": (io.BytesIO((faces / "obama2.jpg").read_bytes()), "id.jpg")})
    assert r.status_code == 409
    check = the_check(cand)
    assert (check.id_image_blob_id, check.selfie_blob_id, check.frames_blob_id) == blobs
    assert all(db.session.get(Blob, b).state == BlobState.COMPLETE for b in blobs)


@pytest.mark.parametrize("app_config", [{"IDCHECK_MAX_RETAKES": 0}])
def test_no_selfie_beyond_the_limit(app, setup, faces):
    exam, cand, client, _staff = setup
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    client.post(f"/api/identity/{exam.id}/document",
                data={"file": (io.BytesIO((faces / "obama2.jpg").read_bytes()), "id.jpg")})
    check = the_check(cand)
    check.selfie_uploads, check.status = 1, IdCheckStatus.RETAKE  # as after one unusable selfie
    db.session.commit()
    r = client.post(f"/api/identity/{exam.id}/liveness")
    assert r.status_code == 409 and "keine Wiederholungen mehr" in r.json["error"]["message"]
    with app.test_request_context(), pytest.raises(Conflict):
        begin_live_challenge(the_check(cand), utcnow())
    assert the_check(cand).selfie_blob_id is None and the_check(cand).challenge == []


def test_review_page_shows_registration_document_frames_and_distance(setup, faces):
    exam, cand, client, staff = setup
    in_review(client, exam, faces)
    check = the_check(cand)
    page = staff.get(f"/review/identity/{check.id}").get_data(as_text=True)
    assert 'id="registration"' in page and "Mustermann" in page and "12.08.1990" in page and "T22000129" in page
    assert 'id="document-fields"' in page and 'id="distance"' in page
    # the last frame looking straight, then the first clear movement of each asked move
    assert page.count("/image/frame-") == 1 + len(check.challenge)
    # (the ID shows another person, so no step counted: each shows the middle of its time)
    assert all("answered_ms" in s and s["followed"] is not True for s in check.challenge)
    frame = staff.get(f"/review/identity/{check.id}/image/frame-2")
    assert frame.status_code == 200 and frame.data[:2] == b"\xff\xd8"
    assert staff.get(f"/review/identity/{check.id}/image/frame-999").status_code == 404


def test_id_images_get_their_deletion_date_when_stored(setup, faces, make_exam):
    exam, cand, client, _staff = setup  # the exam closes in a day
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    challenge_state = client.post(f"/api/identity/{exam.id}/document",
                                  data={"file": (io.BytesIO((faces / "obama2.jpg").read_bytes()), "id.jpg")})
    assert challenge_state.status_code == 200
    photo = db.session.get(Blob, the_check(cand).id_image_blob_id)
    assert photo.retain_until == exam.closes_at
    # a long-open exam: a check nobody finishes loses its photos after 7 days
    long_exam = make_exam(institution=exam.institution, identity_check_required=True, proctoring_required=False,
                          closes_at=utcnow() + dt.timedelta(days=60))
    client.post(f"/candidate/exams/{long_exam.id}/identity/consent", data={"granted": "yes"})
    before = utcnow()
    client.post(f"/api/identity/{long_exam.id}/document",
                data={"file": (io.BytesIO((faces / "obama2.jpg").read_bytes()), "id.jpg")})
    engine_delivers(db.session.scalar(select(IdCheck).where(IdCheck.exam_id == long_exam.id)), faces, "biden.jpg")
    wait_done(client, long_exam)  # review: a person decides, the photos wait with their date
    db.session.expire_all()
    check = db.session.scalar(select(IdCheck).where(IdCheck.exam_id == long_exam.id))
    blobs = [db.session.get(Blob, b) for b in (check.id_image_blob_id, check.selfie_blob_id, check.frames_blob_id)]
    for blob in blobs:
        assert before + dt.timedelta(days=7) <= blob.retain_until <= utcnow() + dt.timedelta(days=7)
    assert all(b.state == BlobState.COMPLETE for b in blobs)
    purge_expired(utcnow() + dt.timedelta(days=6))
    db.session.expire_all()
    assert all(db.session.get(Blob, b.id).state == BlobState.COMPLETE for b in blobs)
    purge_expired(utcnow() + dt.timedelta(days=7, minutes=1))  # abandoned: the purge job takes them
    db.session.expire_all()
    assert all(db.session.get(Blob, b.id).state == BlobState.PURGED for b in blobs)
    assert db.session.get(Blob, photo.id).state == BlobState.PURGED  # the other exam closed by then


def gps_jpeg(faces) -> bytes:
    img = Image.open(faces / "obama2.jpg").convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make
    exif[0x0112] = 6  # orientation: rotate 90° to be upright
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)})
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes(), comment=b"secret comment")
    return buf.getvalue()


def test_exif_and_gps_are_stripped_before_storing(setup, faces):
    exam, cand, client, _staff = setup
    data = gps_jpeg(faces)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the upload does carry a position
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    assert client.post(f"/api/identity/{exam.id}/document", data={"file": (io.BytesIO(data), "id.jpg")}
                       ).status_code == 200
    stored = vault.read(db.session.get(Blob, the_check(cand).id_image_blob_id))
    img = Image.open(io.BytesIO(stored))
    assert img.format == "JPEG" and not img.getexif() and "exif" not in img.info and "comment" not in img.info
    assert b"Exif" not in stored and b"PhoneMaker" not in stored and b"secret comment" not in stored
    original = Image.open(io.BytesIO(data))
    assert img.size == (original.height, original.width)  # the orientation was applied, not lost


def test_withdrawing_biometric_consent_purges_the_id_photo_too(setup, faces):
    exam, cand, client, _staff = setup
    client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"})
    client.post(f"/api/identity/{exam.id}/document",
                data={"file": (io.BytesIO((faces / "obama2.jpg").read_bytes()), "id.jpg")})
    photo = the_check(cand).id_image_blob_id
    assert client.post("/candidate/consent/biometrics", data={"granted": "no"}).status_code == 302
    check = the_check(cand)
    assert db.session.get(Blob, photo).state == BlobState.PURGED and check.id_image_blob_id is None
    assert check.status == IdCheckStatus.MANUAL


def test_every_status_has_words_in_both_languages(app):
    from flask_babel import force_locale

    labels = {}
    for lang in ("de", "en"):
        with app.test_request_context(), force_locale(lang):
            labels[lang] = {s: s.label for s in IdCheckStatus}
    assert all(labels["en"].values()) and all(labels["de"][s] not in (s.value, labels["en"][s]) for s in IdCheckStatus)


def test_every_retention_rule_fits_its_deletion_receipt():
    """A receipt quotes the rule; PostgreSQL refuses a longer one, and the purge of ID images would stop."""
    from storage.models import PurgeReceipt
    from storage.retention import RULES

    limit = PurgeReceipt.__table__.c.rule.type.length
    assert all(len(rule.description) <= limit for rule in RULES.values()), limit


def test_review_page_shows_the_document_step_in_german_words(setup, faces):
    """Issue 30: the review page showed raw keys and English (``source typed``, ``given_names``,
    ``photo_reason no_mrz``, "MRZ typed in, not read from the photo")."""
    exam, cand, client, staff = setup
    in_review(client, exam, faces)
    check = the_check(cand)
    check.document_check = {
        "mrz": "TD1", "source": "typed", "document_number": "T22000129", "surname": "MUSTERMANN",
        "given_names": "ERIKA", "birth_date": "1990-08-12", "expiry_date": "2020-01-31", "nationality": "D",
        "differences": ["the ID document expired on 2020-01-31",
                        "MRZ typed in, not read from the photo: a person compares it with the document"],
        "photo_reason": "no_mrz"}
    db.session.commit()
    page = staff.get(f"/review/identity/{check.id}", headers={"Accept-Language": "de"}).get_data(as_text=True)
    fields = page.split('id="document-fields">', 1)[1].split("</dl>", 1)[0]
    for raw in ("source", "typed", "given_names", "photo_reason", "no_mrz", "TD1", "MRZ typed in", "expired",
                "1990-08-12", "2020-01-31"):
        assert raw not in fields, raw
    for words in ("vom Prüfling eingetippt", "Vornamen", "keine maschinenlesbaren Zeilen gefunden",
                  "Personalausweis", "12.08.1990", "Der Ausweis ist am 31.01.2020 abgelaufen.",
                  "Die maschinenlesbaren Zeilen wurden eingetippt", "Deutschland"):
        assert words in fields, words


def test_review_page_shows_the_machine_notes_in_german_words(setup, faces):
    """Issue 30: "Hinweise" on the review page showed the job runner's English notes (``faces differ: a person will
    review; liveness: step 2 (left): first clear movement went right``); each note is in German words now."""
    exam, cand, client, staff = setup
    in_review(client, exam, faces)
    check = the_check(cand)
    page = staff.get(f"/review/identity/{check.id}", headers={"Accept-Language": "de"}).get_data(as_text=True)
    notes = page.split('id="machine-notes">', 1)[1].split("</dd>", 1)[0]
    assert "faces differ" not in notes and "Gesichter unterscheiden sich" in notes  # the real run's note
    check.reason = ("selfie: too_dark: Too dark. Please turn on a light or move to a brighter place.; no retakes left; "
                    "ID document: the ID document expired on 2020-01-31, " + TYPED + "; liveness: step 2 (left): "
                    "first clear movement went right")
    db.session.commit()
    page = staff.get(f"/review/identity/{check.id}", headers={"Accept-Language": "de"}).get_data(as_text=True)
    notes = page.split('id="machine-notes">', 1)[1].split("</dd>", 1)[0]
    for english in ("selfie:", "too_dark", "Too dark", "retakes", "ID document", "expired", "MRZ typed in",
                    "liveness", "step 2", "(left)", "went right", "2020-01-31"):
        assert english not in notes, english
    for words in ("Selfie: zu dunkel", "keine Wiederholung mehr möglich", "Der Ausweis ist am 31.01.2020 abgelaufen.",
                  "Die maschinenlesbaren Zeilen wurden eingetippt", "Kopfbewegungen: Bewegung 2 (nach links): die "
                  "erste deutliche Bewegung ging nach rechts"):
        assert words in notes, words
    check.reason = "reopened by Stefan Staff 2026-12-01 08:05: Neuer Versuch; bitte (rejected 2026-11-30 17:00: Foto)"
    db.session.commit()
    page = staff.get(f"/review/identity/{check.id}", headers={"Accept-Language": "de"}).get_data(as_text=True)
    notes = page.split('id="machine-notes">', 1)[1].split("</dd>", 1)[0]
    assert notes == ("wieder geöffnet von Stefan Staff am 01.12.2026 09:05: Neuer Versuch; bitte (abgelehnt am "
                     "30.11.2026 18:00: Foto)")
