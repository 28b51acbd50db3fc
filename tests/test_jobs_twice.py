"""Every job may run twice: the queue delivers at least once (RQ puts abandoned jobs back) and stalled work is
queued again. A second run, after the first or beside it, changes nothing: no second email, ZIP, template,
purge receipt or decision. A run cut off half-way is finished by the next one."""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from kernel.clock import clock, utcnow
from kernel.db import db
from kernel.jobs import exclusive, load_jobs, run_job, runner
from tests.conftest import FACES, write_and_die

QUESTIONS = [{"id": "q1", "type": "single_choice", "prompt": "?", "points": 1,
              "options": [{"id": "a", "text": "A", "correct": True}, {"id": "b", "text": "B"}]}]


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"MAIL_SMTP_HOST": None, "JOB_STALLED_AFTER_SECONDS": 120}


def snapshot() -> dict[str, list[str]]:
    """Every row of every table."""
    db.session.rollback()
    return {t.name: sorted(repr(tuple(row)) for row in db.session.execute(select(t)).all())
            for t in db.metadata.sorted_tables}


def outbox(app: Any) -> list[Path]:
    """Emails written so far (no SMTP host: .eml files)."""
    return sorted((Path(app.instance_path) / "outbox").glob("*.eml"))


def drain() -> None:
    """Wait for the jobs a job queued (in-process runner)."""
    runner().wait_all()  # type: ignore[attr-defined]


# ---------------------------------------------------------------- what each job needs to have work to do


def _attempt(make_user: Any, make_exam: Any, **fields: Any) -> Any:
    from exams.models import Attempt, AttemptStatus

    exam = make_exam(questions=QUESTIONS, identity_check_required=False, proctoring_required=False)
    now = utcnow()
    values: dict[str, Any] = {"status": AttemptStatus.IN_PROGRESS, "started_at": now - dt.timedelta(hours=1),
                              "deadline_at": now - dt.timedelta(minutes=5), "seed": 1, "layout": {}}
    values.update(fields)
    att = Attempt(exam=exam, user=make_user("candidate", exam.institution), **values)
    db.session.add(att)
    db.session.commit()
    return att


def _certificate(make_user: Any, make_exam: Any) -> int:
    from exams.certificates import issue_certificate
    from exams.models import AttemptStatus

    now = utcnow()
    released = now - dt.timedelta(days=9)  # the appeal window has closed: the certificate is due
    att = _attempt(make_user, make_exam, status=AttemptStatus.SUBMITTED, ended_at=released, points=1, max_points=1,
                   percent=100, passed=True, result_released_at=released)
    return int(issue_certificate(att, now).id)


def _check(make_user: Any, make_exam: Any, *, stalled: bool = False) -> int:
    """An identity check whose real photos (a match) are in and whose job is due."""
    from idcheck.liveness import schedule, steps_json
    from idcheck.models import IdCheck, IdCheckStatus
    from idcheck.verification import pack_frames
    from storage import vault
    from tests.idcheck.live import head, timed_frames

    faces = FACES
    exam = make_exam(identity_check_required=True)
    cand = make_user("candidate", exam.institution)
    owner = {"user_id": cand.id, "institution_id": exam.institution_id}
    challenge = schedule(["left", "up", "right"], 1_800_000_000_000)
    frames = timed_frames(challenge, head(faces / "obama.jpg").render)
    check = IdCheck(user_id=cand.id, exam_id=exam.id, biometric=True, status=IdCheckStatus.PROCESSING,
                    challenge=steps_json(challenge),
                    id_image_blob_id=vault.store("id_image", (faces / "obama2.jpg").read_bytes(), **owner).id,
                    selfie_blob_id=vault.store("id_image", frames[0][1], **owner).id,
                    frames_blob_id=vault.store("id_image", pack_frames(frames), **owner).id)
    db.session.add(check)
    db.session.commit()
    if stalled:
        clock.advance(dt.timedelta(minutes=3))
    return int(check.id)


def _export(make_user: Any, *, stalled: bool = False) -> int:
    from privacy.models import DataExport

    cand = make_user("candidate")
    now = utcnow()
    exp = DataExport(user_id=cand.id, token=f"t{cand.id}", status="queued", progress=0, lang="en", created_at=now,
                     expires_at=now + dt.timedelta(days=7))
    db.session.add(exp)
    db.session.commit()
    if stalled:
        clock.advance(dt.timedelta(minutes=3))
    return int(exp.id)


def _seed_login_events(**_: Any) -> dict[str, Any]:
    from accounts.models import LoginEvent

    now = utcnow()
    db.session.add_all([LoginEvent(email="x@example.org", ip="::1", success=False, at=now - dt.timedelta(days=8)),
                        LoginEvent(email="x@example.org", ip="::1", success=True, at=now)])
    db.session.commit()
    return {}


def _seed_expired_attempt(make_user: Any, make_exam: Any, **_: Any) -> dict[str, Any]:
    _attempt(make_user, make_exam)
    return {}


def _seed_certificate(make_user: Any, make_exam: Any, **_: Any) -> dict[str, Any]:
    return {"certificate_id": _certificate(make_user, make_exam)}


def _seed_appeal_decision(make_user: Any, make_exam: Any, **_: Any) -> dict[str, Any]:
    from exams.models import Appeal, AppealStatus, AttemptStatus

    now = utcnow()
    att = _attempt(make_user, make_exam, status=AttemptStatus.SUBMITTED, ended_at=now, points=1, max_points=1,
                   percent=100, passed=True, result_released_at=now)
    appeal = Appeal(attempt_id=att.id, filed_at=now, text="Bitte prüfen", status=AppealStatus.REJECTED,
                    decided_at=now, decision_reason="Die Wertung ist richtig.")
    db.session.add(appeal)
    db.session.commit()
    return {"appeal_id": appeal.id}


def _seed_unsent_certificate(make_user: Any, make_exam: Any, **_: Any) -> dict[str, Any]:
    _certificate(make_user, make_exam)
    clock.advance(dt.timedelta(minutes=11))
    return {}


def _seed_expired_blob(make_user: Any, **_: Any) -> dict[str, Any]:
    from storage import vault

    cand = make_user("candidate")
    vault.store("export", b"old zip", user_id=cand.id, institution_id=cand.institution_id)
    clock.advance(dt.timedelta(days=8))
    return {}


def _seed_aged_rows(make_user: Any, **_: Any) -> dict[str, Any]:
    from privacy.models import AccessLog

    cand = make_user("candidate")
    db.session.add(AccessLog(at=utcnow() - dt.timedelta(days=4 * 365), subject_id=cand.id, what="recording",
                             why="appeal"))
    db.session.commit()
    return {}


_IDPS = contextlib.ExitStack()  # the IdPs the SAML refresh seeds start, stopped when the tests end
atexit.register(_IDPS.close)


def _seed_saml_metadata(make_user: Any, **_: Any) -> dict[str, Any]:
    """An IdP connection whose stored metadata is older than what the IdP (pysaml2's, on loopback) publishes now."""
    import tempfile

    from accounts.saml import ProviderSettings, save_provider
    from tests.saml_idp import start_idp

    idp = _IDPS.enter_context(start_idp(Path(tempfile.mkdtemp(prefix="saml-idp-"))))
    user = make_user("staff")
    prov = save_provider(user.institution, ProviderSettings(name="Uni", metadata_url=idp.metadata_url,
                                                            metadata_xml=None))
    prov.metadata_xml = prov.metadata_xml.replace("<ns0:Extensions>", "<ns0:Extensions >", 1)
    db.session.commit()
    return {}


def _seed_inactive(make_user: Any, **_: Any) -> dict[str, Any]:
    cand = make_user("candidate")
    cand.last_active_at = utcnow() - dt.timedelta(days=720)
    db.session.commit()
    return {}


def _seed_cut_recording(make_user: Any, make_exam: Any, **_: Any) -> dict[str, Any]:
    from exams.models import AttemptStatus

    att = _attempt(make_user, make_exam, status=AttemptStatus.SUBMITTED, ended_at=utcnow())
    write_and_die(b"webm" * 100_000, attempt_id=att.id, user_id=att.user_id)
    clock.advance(dt.timedelta(minutes=11))
    return {}


def _seed_lti_unreachable(make_user: Any, make_exam: Any, **_: Any) -> dict[str, Any]:
    """A released result for a course whose platform cannot be reached: the failure is kept once."""
    from exams.models import AttemptStatus
    from lti.models import LtiEnrolment, LtiLink, LtiPlatform

    att = _attempt(make_user, make_exam, status=AttemptStatus.SUBMITTED, ended_at=utcnow())
    att.result_released_at, att.percent = utcnow(), 70
    down = "http://127.0.0.1:9"  # the discard port: nothing listens there
    platform = LtiPlatform(institution_id=att.exam.institution_id, name="Moodle", issuer=down, client_id="c",
                           auth_login_url=f"{down}/auth", auth_token_url=f"{down}/token", jwks_url=f"{down}/jwks",
                           deployment_ids=["1"])
    db.session.add(platform)
    db.session.flush()
    link = LtiLink(platform_id=platform.id, exam_id=att.exam_id, deployment_id="1", resource_link_id="r",
                   lineitem_url=f"{down}/lineitems/1", ags_scopes=[])
    db.session.add(link)
    db.session.flush()
    db.session.add(LtiEnrolment(link_id=link.id, user_id=att.user_id, subject="s-1", source="roster"))
    db.session.commit()
    return {}


def _seed_finished_part(make_user: Any, make_exam: Any, **_: Any) -> dict[str, Any]:
    from exams.models import AttemptStatus
    from storage import vault
    from tests.proctoring.conftest import tiny_webm

    att = _attempt(make_user, make_exam, status=AttemptStatus.SUBMITTED, ended_at=utcnow())
    vault.store("recording", tiny_webm(), content_type="video/webm", attempt_id=att.id, user_id=att.user_id,
                institution_id=att.exam.institution_id)
    return {}


def _notice(make_user: Any, *, age: dt.timedelta = dt.timedelta(0)) -> int:
    """An unsent notice, inserted without the ORM (whose commit would queue its job at once)."""
    from accounts.models import Notice

    cand = make_user("candidate")
    result = db.session.execute(sa.insert(Notice.__table__).values(
        user_id=cand.id, kind="registration_notice", key=f"test:{cand.id}", params={"lang": "en"},
        created_at=utcnow() - age))
    db.session.commit()
    return int(result.inserted_primary_key[0])


def _seed_expired_link_mail(**_: Any) -> dict[str, Any]:
    """An outbox mail whose reset link expired a minute ago."""
    from exams.mailer import LINK_EXPIRES, deliver, plain_message

    msg = plain_message("someone@example.org", "Reset", "https://aufsicht.test/password-reset/token")
    msg[LINK_EXPIRES] = (utcnow() - dt.timedelta(minutes=1)).isoformat()
    deliver(msg)
    return {}


def _seed_session_tomorrow(make_user: Any, make_exam: Any, **_: Any) -> dict[str, Any]:
    from exams.models import Enrolment, ExamSession

    now = utcnow()
    exam = make_exam(enrol_all=False, closes_at=now + dt.timedelta(days=3))
    session = ExamSession(exam_id=exam.id, starts_at=now + dt.timedelta(hours=12),
                          ends_at=now + dt.timedelta(hours=13))
    db.session.add(session)
    db.session.flush()
    db.session.add(Enrolment(exam_id=exam.id, user_id=make_user("candidate", exam.institution).id,
                             session_id=session.id, enrolled_at=now - dt.timedelta(days=2)))
    db.session.commit()
    return {}


def _webhook_delivery(make_user: Any, make_exam: Any) -> int:
    """A released result whose webhook is due, for an endpoint where nothing listens (the try fails: noted once)."""
    from exams.models import AttemptStatus
    from results.models import WebhookDelivery, WebhookEndpoint

    att = _attempt(make_user, make_exam, status=AttemptStatus.SUBMITTED, ended_at=utcnow(), result_released_at=utcnow())
    endpoint = WebhookEndpoint(institution_id=att.exam.institution_id, url="http://127.0.0.1:9/hook",
                               events=["result.released"], secret_key_id="k", secret_wrapped=b"s")
    db.session.add(endpoint)
    db.session.commit()
    from storage.vault import keyring

    endpoint.secret_key_id, endpoint.secret_wrapped = keyring().wrap(b"whsec_c2VjcmV0")
    db.session.commit()
    result = db.session.execute(sa.insert(WebhookDelivery.__table__).values(  # no ORM: its commit queues the job
        endpoint_id=endpoint.id, attempt_id=att.id, event="result.released", message_id=f"msg_{att.id}", body="{}",
        created_at=utcnow(), status="pending", attempts=0, next_attempt_at=utcnow()))
    db.session.commit()
    return int(result.inserted_primary_key[0])


def _seed_room_scan_overrun(make_user: Any, make_exam: Any, **_: Any) -> dict[str, Any]:
    """A room scan begun before the start ten minutes ago and never completed (the candidate's page is gone)."""
    from exams.attempts import record_event
    from exams.models import Attempt, AttemptStatus

    exam = make_exam(questions=QUESTIONS, identity_check_required=False, proctoring_required=True,
                     room_scan_required=True)
    now = utcnow()
    att = Attempt(exam=exam, user=make_user("candidate", exam.institution), status=AttemptStatus.IN_PROGRESS,
                  started_at=now - dt.timedelta(minutes=11), deadline_at=now + dt.timedelta(hours=1), seed=1,
                  layout={})
    db.session.add(att)
    db.session.commit()
    record_event(att, "room_scan_started", now - dt.timedelta(minutes=10), why="before_start")
    db.session.commit()
    return {}


SEEDS: dict[str, Callable[..., dict[str, Any]]] = {
    "lti.send_released_results": _seed_lti_unreachable,
    "accounts.send_notice": lambda make_user, **_: {"notice_id": _notice(make_user)},
    "accounts.send_pending_notices": lambda make_user, **_: (_notice(make_user, age=dt.timedelta(minutes=3)), {})[1],
    "exams.send_reminders": _seed_session_tomorrow,
    "proctoring.finish_cut_recordings": _seed_cut_recording,
    "proctoring.remux_recordings": _seed_finished_part,
    "accounts.purge_login_events": _seed_login_events,
    "accounts.purge_expired_link_mails": _seed_expired_link_mail,
    "exams.close_expired_attempts": _seed_expired_attempt,
    "proctoring.expire_room_scans": _seed_room_scan_overrun,
    "exams.send_certificate": _seed_certificate,
    "exams.send_unsent_certificates": _seed_unsent_certificate,
    "exams.send_appeal_decision": _seed_appeal_decision,
    "storage.purge_expired": _seed_expired_blob,
    "privacy.purge_aged_rows": _seed_aged_rows,
    "privacy.inactive_accounts": _seed_inactive,
    "accounts.saml_refresh_metadata": _seed_saml_metadata,
    "privacy.build_export": lambda make_user, **_: {"export_id": _export(make_user), "lang": "en"},
    "privacy.requeue_stalled_exports": lambda make_user, **_: (_export(make_user, stalled=True), {})[1],
    "idcheck.verify": lambda make_user, make_exam, **_: {"check_id": _check(make_user, make_exam)},
    "results.deliver_webhook": lambda make_user, make_exam, **_: {"delivery_id": _webhook_delivery(make_user,
                                                                                                   make_exam)},
    "results.deliver_due_webhooks": lambda make_user, make_exam, **_: (_webhook_delivery(make_user, make_exam), {})[1],
    "idcheck.requeue_stalled": lambda make_user, make_exam, **_: (_check(make_user, make_exam, stalled=True), {})[1],
}


def test_every_job_has_a_twice_test(app):  # the app factory names the modules that define jobs
    assert set(load_jobs()) == set(SEEDS)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_second_run_changes_nothing(app, name, make_user, make_exam):
    kwargs = SEEDS[name](make_user=make_user, make_exam=make_exam)
    before = snapshot()
    mails = outbox(app)
    run_job(name, kwargs)
    drain()
    first, first_mails = snapshot(), outbox(app)
    assert first != before or first_mails != mails, f"{name} found nothing to do: the test proves nothing"
    run_job(name, kwargs)
    drain()
    assert snapshot() == first
    assert outbox(app) == first_mails


def test_a_run_beside_another_does_nothing(app, make_user, make_exam):
    from idcheck.models import IdCheck, IdCheckStatus

    check_id = _check(make_user, make_exam)
    export_id = _export(make_user)
    cert_id = _certificate(make_user, make_exam)
    before, mails = snapshot(), outbox(app)
    for key, name, kwargs in [(f"idcheck.verify:{check_id}", "idcheck.verify", {"check_id": check_id}),
                              (f"privacy.build_export:{export_id}", "privacy.build_export", {"export_id": export_id}),
                              (f"exams.send_certificate:{cert_id}", "exams.send_certificate",
                               {"certificate_id": cert_id})]:
        with exclusive(key) as mine:  # the first run holds its lock
            assert mine
            assert run_job(name, kwargs) is None
    assert snapshot() == before and outbox(app) == mails
    assert run_job("idcheck.verify", {"check_id": check_id}) == "verified"
    assert db.session.get(IdCheck, check_id).status == IdCheckStatus.VERIFIED


def test_identity_check_cut_off_after_the_template_is_finished(app, make_user, make_exam):
    from idcheck.models import IdCheck, IdCheckStatus
    from storage.models import Blob, BlobState, PurgeReceipt

    check_id = _check(make_user, make_exam)
    assert run_job("idcheck.verify", {"check_id": check_id}) == "verified"
    check = db.session.get(IdCheck, check_id)
    # As if the worker had died after storing the template and purging the images, before the status
    check.status, check.decided_at = IdCheckStatus.PROCESSING, None
    db.session.commit()
    receipts = db.session.scalar(select(func.count()).select_from(PurgeReceipt))
    assert run_job("idcheck.verify", {"check_id": check_id}) == "verified"
    db.session.rollback()
    blobs = db.session.scalars(select(Blob).where(Blob.user_id == check.user_id)).all()
    assert sorted((b.category, b.state) for b in blobs) == [("face_template", BlobState.COMPLETE)] + [
        ("id_image", BlobState.PURGED)] * 3
    assert db.session.scalar(select(func.count()).select_from(PurgeReceipt)) == receipts


def test_export_cut_off_is_built_again_and_its_partial_zip_deleted(app, make_user):
    from privacy.models import DataExport
    from storage import vault
    from storage.models import Blob, BlobState

    export_id = _export(make_user)
    exp = db.session.get(DataExport, export_id)
    writer = vault.open_writer("export", user_id=exp.user_id)  # the run that died half-way
    writer.write(b"PK partial" * 10000)
    writer.flush()
    writer._stream._fh.close()  # (the process is gone: its file handle with it)
    partial_key = db.session.get(Blob, writer.blob_id).key
    assert vault.backend().exists(partial_key)
    exp.status, exp.progress, exp.blob_id = "running", 40, writer.blob_id
    db.session.commit()
    run_job("privacy.build_export", {"export_id": export_id, "lang": "de"})
    db.session.rollback()
    exp = db.session.get(DataExport, export_id)
    assert exp.status == "ready" and exp.blob_id != writer.blob_id
    states = dict(db.session.execute(select(Blob.id, Blob.state).where(Blob.category == "export")).all())
    assert states == {writer.blob_id: BlobState.PURGED, exp.blob_id: BlobState.COMPLETE}
    assert not vault.backend().exists(partial_key)


def test_purge_cut_off_after_its_receipt_leaves_one_receipt(app, make_user):
    from storage import vault
    from storage.models import BlobState, PurgeReceipt
    from storage.retention import purge_blob_now

    cand = make_user("candidate")
    blob = vault.store("id_image", b"photo", user_id=cand.id)
    blob.state, blob.wrapped_key = BlobState.PURGING, None  # died between the receipt and the delete
    db.session.add(PurgeReceipt(blob_id=blob.id, category=blob.category, rule="test", user_id=cand.id,
                                purged_at=utcnow()))
    db.session.commit()
    purge_blob_now(blob, utcnow(), "test")
    assert blob.state == BlobState.PURGED
    assert db.session.scalar(select(func.count()).select_from(PurgeReceipt)) == 1
    assert not vault.backend().exists(blob.key)


def test_queue_down_leaves_the_work_to_its_requeue(app, make_user, make_exam):
    """The request's work is committed; the enqueue fails; the periodic requeue picks it up."""
    from kernel.jobs import RedisRunner, enqueue_pending

    app.extensions["aufsicht.jobs"], in_process = RedisRunner("redis://127.0.0.1:9/0", "nowhere"), runner()
    try:
        assert enqueue_pending("privacy.build_export", export_id=1, lang="de") is None
    finally:
        app.extensions["aufsicht.jobs"] = in_process
    export_id = _export(make_user)
    assert run_job("privacy.requeue_stalled_exports", {}) == 0  # fresh: its job may still be on the way
    clock.advance(dt.timedelta(minutes=3))
    assert run_job("privacy.requeue_stalled_exports", {}) == 1
    drain()
    from privacy.models import DataExport

    db.session.rollback()
    assert db.session.get(DataExport, export_id).status == "ready"
