"""A candidate with data in every table and storage category the inventory lists, and a second one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from kernel.clock import utcnow
from kernel.db import db

NAME = ("Zacharias", "Quastenberg")
ID_NUMBER = "C01X00T47"


def seed_everything(app: Any, make_user: Any, make_exam: Any, make_institution: Any, *, email: str,
                    first: str, last: str, id_number: str, institution: Any = None,
                    certificate: bool = True) -> Any:
    """A candidate who registered, corrected a field, logged in, was identity-checked, took a supervised
    exam (answers, events, flags, chat, recording, snapshots), appealed, got a certificate."""
    from exams.models import (
        Answer,
        AnswerFile,
        Appeal,
        AppealStatus,
        Attempt,
        AttemptEvent,
        AttemptStatus,
        Certificate,
        ExtraTime,
        MediaPlay,
    )
    from idcheck.models import IdCheck, IdCheckMessage, IdCheckStatus
    from oversight.models import DetectorRun
    from privacy.models import AccessLog, ProfileChange
    from proctoring.models import (
        Accommodation,
        EvidenceView,
        Flag,
        FlagKind,
        PhonePairing,
        RecordingPlayback,
        SystemCheck,
    )
    from storage import vault
    from storage.retention import purge_blob_now

    inst = institution or make_institution("Sprachschule Nord")
    cand = make_user("candidate", inst, email=email, first_name=first, last_name=last, id_document_number=id_number,
                     gender="divers")
    staff = make_user("staff", inst)
    exam = make_exam(institution=inst, title="Deutsch C1")
    now = utcnow()
    owner = {"user_id": cand.id, "institution_id": inst.id}
    att = Attempt(exam=exam, user=cand, status=AttemptStatus.SUBMITTED, started_at=now - dt.timedelta(hours=2),
                  deadline_at=now - dt.timedelta(hours=1), ended_at=now - dt.timedelta(hours=1), seed=1, layout={},
                  points=8, max_points=10, percent=80, passed=True, result_released_at=now, review_outcome="clean",
                  seb_state="valid")
    db.session.add(att)
    db.session.flush()
    rec = vault.store("recording", b"webm " + last.encode(), content_type="video/webm", attempt_id=att.id, **owner)
    copy = vault.store("playback", b"webm copy " + last.encode(), content_type="video/webm", attempt_id=att.id,
                       **owner)
    db.session.add(RecordingPlayback(part_id=rec.id, copy_id=copy.id, state="ready", duration_ms=1000,
                                     started_at=now - dt.timedelta(hours=2)))
    vault.store("phone_recording", b"webm phone " + last.encode(), content_type="video/webm", attempt_id=att.id,
                **owner)
    snap = vault.store("snapshot", b"jpeg", content_type="image/jpeg", attempt_id=att.id, **owner)
    gone = vault.store("snapshot", b"old jpeg", content_type="image/jpeg", attempt_id=att.id, **owner)
    vault.store("chat", b'{"text": "Hallo"}', content_type="application/json", attempt_id=att.id, **owner)
    id_img = vault.store("id_image", b"id photo", content_type="image/*", **owner)
    tmpl = vault.store("face_template", b"\0" * 1024, **owner)
    handed = vault.store("answer_file", b"%PDF-1.4 " + last.encode(), content_type="application/pdf",
                         attempt_id=att.id, **owner)
    purge_blob_now(gone, now, "test: an older snapshot")
    db.session.add_all([
        ProfileChange(user_id=cand.id, field="city", old_value="Bonn", new_value="Köln", changed_by_id=cand.id),
        ProfileChange(user_id=cand.id, field="last_name", old_value=last, new_value=f"{last}-Neu",
                      changed_by_id=cand.id, status="approved", decided_by_id=staff.id, decided_at=now),
        Answer(attempt_id=att.id, question_id="q4", value=f"Ich heiße {first}", saved_at=now, manual_points=3,
               manual_note="Gut verständlich.", rubric_levels={"content": "b1"}),
        AnswerFile(attempt_id=att.id, question_id="q5", blob_id=handed.id, content_type="application/pdf", size=12,
                   name=f"formular-{last}.pdf", sha256="0" * 64, uploaded_at=now),
        MediaPlay(attempt_id=att.id, question_id="q6", number=1, ticket_sha256=f"p{att.id}".ljust(64, "0"),
                  issued_at=now, expires_at=now, bytes_served=100, byte_budget=1000),
        AttemptEvent(attempt_id=att.id, at=now, kind="warning", actor_id=staff.id, detail={"text": "Blick"}),
        Flag(attempt_id=att.id, kind=FlagKind.NO_FACE, started_at=now, last_seen_at=now, detail={"seconds": 5},
             reviewed_by_id=staff.id, reviewed_at=now, note="ok"),
        Appeal(attempt_id=att.id, filed_at=now, text=f"Einspruch von {first}", status=AppealStatus.REJECTED,
               decided_at=now, decided_by_id=staff.id, decision_reason="unbegründet"),
        IdCheck(user_id=cand.id, exam_id=exam.id, status=IdCheckStatus.VERIFIED, biometric=True,
                id_image_blob_id=id_img.id, template_blob_id=tmpl.id, challenge=["left", "right"],
                auto_decision="match", distance=0.3, liveness_passed=True, reason="match",
                document_check={"mrz_name": f"{last.upper()}<<{first.upper()}"}, decided_at=now,
                decision_reason="passt", virtual_camera="OBS Virtual Camera"),
        SystemCheck(user_id=cand.id, exam_id=exam.id, passed_at=now, detail={"camera": "ok"}),
        PhonePairing(user_id=cand.id, exam_id=exam.id, attempt_id=att.id, token_hash=f"t{cand.id}".ljust(64, "0"),
                     device_hash=f"d{cand.id}".ljust(64, "0"), created_at=now, expires_at=now, used_at=now,
                     replaced_at=now),
        Accommodation(user_id=cand.id, exam_id=exam.id, flag_kind=FlagKind.NO_FACE, reason="Sehbehinderung",
                      created_by_id=staff.id),
        ExtraTime(exam_id=exam.id, user_id=cand.id, extra_minutes=15, extra_percent=0, reason="Legasthenie",
                  created_by_id=staff.id),
        AccessLog(at=now, actor_id=staff.id, subject_id=cand.id, what="recording", why="review",
                  attempt_id=att.id),
        DetectorRun(at=now, attempt_id=att.id, detector="face_presence", flag_kind="no_face", model="BlazeFace",
                    version="0.10.21", thresholds={"no_face_after_seconds": 3.0}, measure={"seconds": 5},
                    outcome="raised", span_start=now - dt.timedelta(seconds=5), span_end=now),
        EvidenceView(attempt_id=att.id, viewer_id=staff.id, blob_id=id_img.id, at=now,
                     span_start=now - dt.timedelta(minutes=5), span_end=now),
    ])
    db.session.flush()
    check = db.session.scalars(sa.select(IdCheck).where(IdCheck.user_id == cand.id)).first()
    db.session.add(IdCheckMessage(check_id=check.id, user_id=cand.id, sender_id=cand.id, at=now,
                                  text=f"Ich höre nichts, {first}"))
    if certificate:
        db.session.add(Certificate(attempt_id=att.id, public_id=f"cert-{cand.id}", issued_at=now,
                                   credential=f'{{"name": "{first} {last}"}}', sent_at=now, revoked_at=now,
                                   revocation_reason="test", holder_name=f"{first} {last}",
                                   holder_birth_date=dt.date(1990, 1, 1), completed_on=now.date(),
                                   score_percent="80.00", identity_method="automatic", identity_verified_at=now,
                                   supervised=True, review="clean", seb_lockdown=True, status_index=cand.id,
                                   openbadge=f'{{"identityHash": "{first} {last}"}}'))
    cand.last_active_at, cand.restricted_at, cand.inactivity_notice_at = now, now, now
    from accounts.models import LoginEvent

    db.session.add(LoginEvent(user_id=cand.id, email=email, ip="192.0.2.7", success=False, detail="bad password"))
    from accounts.oidc import OidcIdentity, OidcProvider

    provider = OidcProvider(institution_id=inst.id, name="Uni-Login", issuer="https://login.example.org",
                            client_id="aufsicht", secret_key_id="k", secret_wrapped=b"sealed")
    db.session.add(provider)
    db.session.flush()
    db.session.add_all([
        OidcIdentity(provider_id=provider.id, subject=f"sub-{first}", user_id=cand.id, email_verified=True,
                     last_login_at=now, sign_ins=2),
        LoginEvent(user_id=cand.id, email=email, ip="192.0.2.7", success=True, provider="Uni-Login"),
    ])
    from accounts.saml import SamlIdentity, SamlProvider, SamlSession

    idp = SamlProvider(institution_id=inst.id, name="Hochschule", idp_entity_id="https://idp.example.org/idp",
                       metadata_xml="<EntityDescriptor/>", key_id="k", key_wrapped=b"sealed", cert_pem="-")
    db.session.add(idp)
    db.session.flush()
    db.session.add_all([
        SamlIdentity(provider_id=idp.id, subject=f"{first}@example.org", user_id=cand.id, last_login_at=now,
                     sign_ins=1),
        SamlSession(provider_id=idp.id, user_id=cand.id, issuer="https://idp.example.org/idp",
                    name_id=f"name-{first}", session_index="s1", created_at=now, ended_at=now),
    ])
    from accounts.models import AccountAction

    db.session.add(AccountAction(user_id=cand.id, actor_id=None, action="locked", detail="", at=now))
    from lti.models import LtiEnrolment, LtiIdentity, LtiLink, LtiPlatform, LtiProctoring

    lms = LtiPlatform(institution_id=inst.id, name="Moodle", issuer=f"https://lms.example.org/{cand.id}",
                      client_id="c", auth_login_url="https://lms.example.org/auth",
                      auth_token_url="https://lms.example.org/token", jwks_url="https://lms.example.org/jwks",
                      deployment_ids=["1"])
    db.session.add(lms)
    db.session.flush()
    link = LtiLink(platform_id=lms.id, exam_id=exam.id, deployment_id="1", resource_link_id="r", ags_scopes=[])
    db.session.add(link)
    db.session.flush()
    db.session.add_all([
        LtiIdentity(platform_id=lms.id, subject=f"lti-{first}", user_id=cand.id, last_launch_at=now),
        LtiEnrolment(link_id=link.id, user_id=cand.id, subject=f"lti-{first}", source="roster", score_sent_at=now,
                     score_sent_percent=80),
        LtiProctoring(link_id=link.id, user_id=cand.id, attempt_number=1, session_data="s",
                      start_assessment_url="https://lms.example.org/start", status="ended",
                      assessment_started_at=now, ended_at=now, acs_actions=[],
                      last_control={"action": "pause", "status": "paused"},
                      verdict={"event": "terminate", "reason": "identity not confirmed"}, attempt_id=att.id),
    ])
    from accounts.models import Notice
    from exams.models import Enrolment, ExamSession

    cand.language = "de"
    proctor = make_user("proctor", inst)
    session = ExamSession(exam_id=exam.id, starts_at=now, ends_at=now + dt.timedelta(hours=1), proctors=[proctor])
    db.session.add(session)
    db.session.flush()
    enrolment = db.session.scalars(sa.select(Enrolment).where(Enrolment.user_id == cand.id,
                                                              Enrolment.exam_id == exam.id)).one()
    enrolment.session_id, enrolment.proctor_id = session.id, proctor.id
    db.session.add(Notice(user_id=cand.id, kind="enrolment", key=f"enrolment:{enrolment.id}", sent_at=now,
                          params={"enrolment_id": enrolment.id}))
    from results.models import ApiToken, WebhookDelivery, WebhookEndpoint

    hook = WebhookEndpoint(institution_id=inst.id, url=f"https://hooks.example.org/{cand.id}",
                           events=["result.released"], secret_key_id="k", secret_wrapped=b"sealed",
                           created_by_id=staff.id)
    db.session.add_all([hook, ApiToken(institution_id=inst.id, name="Campus", scopes=["results:read"],
                                       prefix="afs_x", token_hash=f"{cand.id:064d}", created_by_id=staff.id)])
    db.session.flush()
    db.session.execute(sa.insert(WebhookDelivery.__table__).values(  # no ORM: its commit would queue the delivery
        endpoint_id=hook.id, attempt_id=att.id, event="result.released", message_id=f"msg_{cand.id}",
        body=f'{{"candidate": {{"name": "{first} {last}"}}}}', created_at=now, status="failed", attempts=1,
        last_attempt_at=now, response_code=500, last_error="HTTP 500"))
    db.session.commit()
    return type("Seeded", (), {"user": cand, "attempt": att, "exam": exam, "staff": staff, "inst": inst,
                               "blobs": [rec, snap, id_img, tmpl]})


@pytest.fixture
def seeded(app, make_user, make_exam, make_institution) -> Any:
    """Two candidates of one institution with everything; the first is the one under test."""
    one = seed_everything(app, make_user, make_exam, make_institution, email="zq@example.org", first=NAME[0],
                          last=NAME[1], id_number=ID_NUMBER)
    other = seed_everything(app, make_user, make_exam, make_institution, email="other@example.org",
                            first="Ottilie", last="Nebenan", id_number="X99Y88Z77", institution=one.inst)
    return one, other
