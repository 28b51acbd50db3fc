"""Consent withdrawal, rectification, restriction and objection, institution settings, statistics."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from exams.models import Attempt, AttemptStatus
from idcheck.models import IdCheck, IdCheckStatus
from kernel.clock import utcnow
from kernel.db import db
from privacy.models import ProfileChange
from privacy.settings import update_settings
from privacy.statistics import institution_statistics
from storage import vault
from storage.models import Blob, BlobState, PurgeReceipt
from tests.conftest import login


def test_withdrawing_biometric_consent_destroys_templates_at_once(client, seeded):
    one, other = seeded
    check = db.session.scalar(sa.select(IdCheck).where(IdCheck.user_id == one.user.id))
    template = db.session.get(Blob, check.template_blob_id)
    key = template.key
    login(client, one.user)
    assert client.post("/candidate/consent/biometrics", data={"granted": "no"}).status_code == 302
    db.session.expire_all()
    template = db.session.get(Blob, template.id)
    assert template.state == BlobState.PURGED and template.wrapped_key is None
    try:
        vault.backend().size(key)
        raise AssertionError("template bytes still stored")
    except FileNotFoundError:
        pass
    check = db.session.get(IdCheck, check.id)
    assert check.template_blob_id is None and check.biometric is False
    assert db.session.scalar(sa.select(PurgeReceipt).where(PurgeReceipt.blob_id == template.id)).rule == \
        "biometric consent withdrawn"
    other_check = db.session.scalar(sa.select(IdCheck).where(IdCheck.user_id == other.user.id))
    assert other_check.template_blob_id is not None  # nobody else's


def test_rectification_validates_and_keeps_a_trail(client, make_user):
    cand = make_user("candidate")
    login(client, cand)
    bad = client.post("/account/privacy/profile", data={"postal_code": "12"})
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.get_data(as_text=True)
    assert client.post("/account/privacy/profile", data={"last_name": "Musterfrau", "city": "Bonn"}).status_code == 302
    db.session.expire_all()
    changes = {c.field: (c.old_value, c.new_value) for c in db.session.scalars(sa.select(ProfileChange))}
    assert changes == {"last_name": ("Mustermann", "Musterfrau"), "city": ("Köln", "Bonn")}
    assert "Musterfrau" in client.get("/account/privacy").get_data(as_text=True)


def test_restriction_stops_new_attempts_until_lifted(client, make_user, make_exam, make_institution):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=False)
    cand = make_user("candidate", inst)
    login(client, cand)
    client.post("/account/privacy/restriction", data={"restrict": "yes"})
    client.post(f"/candidate/exams/{exam.id}/start")
    assert db.session.scalar(sa.select(Attempt).where(Attempt.user_id == cand.id)) is None
    client.post("/account/privacy/restriction", data={"restrict": "no"})
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 302
    assert db.session.scalar(sa.select(Attempt).where(Attempt.user_id == cand.id)) is not None


def test_objection_restricts_processing(client, make_user):
    cand = make_user("candidate")
    login(client, cand)
    client.post("/account/privacy/objection")
    db.session.expire_all()
    assert db.session.get(type(cand), cand.id).restricted_at is not None


def test_settings_are_per_institution_and_checked(client, make_user, make_institution):
    a, b = make_institution(), make_institution()
    login(client, make_user("staff", a))
    assert client.post("/staff/privacy", data={"role": "controller", "appeal_window_days": "99"}).status_code == 400
    assert client.post("/staff/privacy", data={"role": "controller", "appeal_window_days": "14",
                                               "recording": "on"}).status_code == 302
    from privacy.settings import appeal_window_days, settings_for

    s = settings_for(a.id)
    assert (s.role, s.recording, s.biometric_matching, s.appeal_window_days) == ("controller", True, False, 14)
    assert appeal_window_days(b.id) == 7


def test_appeal_window_setting_moves_the_purge(app, make_user, make_exam, make_institution):
    from storage.retention import purge_expired

    inst = make_institution()
    exam = make_exam(institution=inst)
    cand = make_user("candidate", inst)
    now = utcnow()
    att = Attempt(exam=exam, user=cand, status=AttemptStatus.SUBMITTED, started_at=now - dt.timedelta(days=10),
                  deadline_at=now - dt.timedelta(days=10), ended_at=now - dt.timedelta(days=9), seed=1, layout={},
                  result_released_at=now - dt.timedelta(days=8))
    db.session.add(att)
    db.session.commit()
    blob = vault.store("recording", b"x", attempt_id=att.id, user_id=cand.id, institution_id=inst.id)
    update_settings(inst.id, role="processor", recording=True, biometric_matching=True, appeal_window_days=14)
    assert blob.id not in purge_expired(now, dry_run=True).blob_ids  # 14 days not over yet
    update_settings(inst.id, role="processor", recording=True, biometric_matching=True, appeal_window_days=7)
    assert blob.id in purge_expired(now, dry_run=True).blob_ids


def test_statistics_never_show_a_group_smaller_than_five(client, make_user, make_exam, make_institution):
    inst = make_institution()
    small, big = make_exam(institution=inst, title="Klein"), make_exam(institution=inst, title="Groß")
    now = utcnow()

    def attempts(exam, passed):
        for ok in passed:
            db.session.add(Attempt(exam=exam, user=make_user("candidate", inst), status=AttemptStatus.SUBMITTED,
                                   deadline_at=now, ended_at=now, seed=1, layout={}, passed=ok,
                                   review_outcome="clean"))
        db.session.commit()

    attempts(small, [True, True, False])
    attempts(big, [True] * 6 + [False] * 6)
    rows = {r.title: r for r in institution_statistics(inst.id)}
    assert rows["Klein"].candidates is None and rows["Klein"].passed.count is None
    assert rows["Groß"].candidates == 12 and rows["Groß"].passed.count == 6 and rows["Groß"].passed.percent == 50
    assert rows["Groß"].review_clean.count is None  # all 12 clean would single out every one of them
    assert rows["Groß"].flagged.count is None  # 0 flagged: a group of zero is also not shown
    login(client, make_user("staff", inst))
    html = client.get("/staff/statistics").get_data(as_text=True)
    assert "6 (50 %)" in html and "Klein" in html


def test_inactive_candidates_get_a_notice_then_are_erased(app, make_user, make_institution):
    from pathlib import Path

    from privacy.jobs import handle_inactive_accounts

    inst = make_institution()
    idle, active = make_user("candidate", inst), make_user("candidate", inst)
    now = utcnow()
    idle.last_active_at = now - dt.timedelta(days=2 * 365 - 10)  # within the notice period
    active.last_active_at = now - dt.timedelta(days=30)
    db.session.commit()
    assert handle_inactive_accounts(now) == {"noticed": 1, "erased": 0}
    outbox = list((Path(app.instance_path) / "outbox").glob("*.eml"))
    assert any(idle.email in p.read_text() for p in outbox)
    assert handle_inactive_accounts(now + dt.timedelta(days=5)) == {"noticed": 0, "erased": 0}  # notice not due
    assert handle_inactive_accounts(now + dt.timedelta(days=31)) == {"noticed": 0, "erased": 1}
    db.session.expire_all()
    assert db.session.get(type(idle), idle.id).erased_at is not None
    assert db.session.get(type(active), active.id).erased_at is None


@pytest.mark.parametrize("keep", [False, True])
def test_institution_chooses_whether_id_photos_stay_until_the_exam_closes(app, make_user, make_exam, keep):
    from idcheck.verification import decide

    exam = make_exam()
    cand, staff = make_user("candidate", exam.institution), make_user("staff", exam.institution)
    update_settings(exam.institution_id, role="processor", recording=True, biometric_matching=True,
                    appeal_window_days=7, keep_id_images_until_exam_end=keep)
    photo = vault.store("id_image", b"ausweis", user_id=cand.id, institution_id=exam.institution_id)
    check = IdCheck(user_id=cand.id, exam_id=exam.id, status=IdCheckStatus.REVIEW, id_image_blob_id=photo.id)
    db.session.add(check)
    db.session.commit()
    with app.test_request_context():
        decide(check, staff, True, "passt", utcnow())
    db.session.expire_all()
    photo = db.session.get(Blob, photo.id)
    if keep:
        assert photo.state == BlobState.COMPLETE and photo.retain_until == exam.closes_at
    else:
        assert photo.state == BlobState.PURGED
