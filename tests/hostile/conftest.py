"""A complete tenant (institution with staff, proctor, candidate, exams, attempts, certificate, appeal, chat,
recording and identity check), built through the real services, for the hostile-input tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from kernel.clock import utcnow
from kernel.db import db

QUESTIONS = [
    {"id": "q1", "type": "single_choice", "prompt": "Hauptstadt?", "points": 1,
     "options": [{"id": "a", "text": "Berlin", "correct": True}, {"id": "b", "text": "Bonn"}]},
    {"id": "q2", "type": "free_text", "prompt": "Erklären Sie.", "points": 1},
]


@pytest.fixture
def app_config() -> dict[str, Any]:
    """No certificate emails in the background: these tests look at pages and APIs only."""
    return {}


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Verification is rate-limited per IP; every test starts with fresh counters."""
    from app.ratelimit import reset

    reset()


@dataclasses.dataclass
class Tenant:
    """Everything one institution owns, with the ids the URL walk substitutes."""

    marker: str
    inst: Any
    staff: Any
    proctor: Any
    candidate: Any
    exam_done: Any
    exam_live: Any
    attempt_done: Any
    attempt_live: Any
    cert: Any
    appeal: Any
    check: Any
    recording: Any
    chat_id: int
    export: Any
    change: Any = None  # a requested change of name, waiting for the exam office
    provider: Any = None  # the institution's OpenID sign-in provider
    lti_platform: Any = None  # the institution's learning platform (LTI), a course link, a proctored attempt there
    lti_link: Any = None
    lti_session: Any = None
    flag: Any = None  # an open flag on the live attempt, waiting for a proctor's decision
    session: Any = None  # a session of the live exam, with the tenant's proctor
    enrolment: Any = None  # the candidate's place on the roster of the finished exam
    answer_file: Any = None  # a file the candidate handed in for an upload item of the finished exam
    item_image: Any = None  # an image of the institution's hotspot items
    api_token: str = ""  # an API token of the institution (both scopes), and its row
    token: Any = None
    webhook: Any = None  # a webhook endpoint of the institution (a TEST-NET address: a delivery fails at once)
    item_media: Any = None  # a recording (a WAV tone) the institution's items may play


@pytest.fixture
def make_tenant(app: Flask, make_institution: Callable[..., Any], make_user: Callable[..., Any],
                make_exam: Callable[..., Any]) -> Callable[..., Tenant]:
    """Build a tenant whose every visible string contains ``marker`` (so a leak can be searched for)."""
    from exams.appeals import file_appeal
    from exams.attempts import save_answer, start_attempt, submit_attempt
    from exams.certificates import certificate_for_attempt
    from exams.grading import give_points, release_result
    from idcheck.models import IdCheck, IdCheckStatus
    from proctoring import chat
    from storage import vault

    def make(marker: str, *, candidate_name: str | None = None, exam_title: str | None = None,
             answer: str | None = None, chat_text: str | None = None, appeal_text: str | None = None) -> Tenant:
        inst = make_institution(f"Institut {marker}")
        title = exam_title or f"Prüfung {marker}"
        exam_done = make_exam(institution=inst, title=title, questions=QUESTIONS, pass_mark_percent=50,
                              identity_check_required=False, proctoring_required=False)
        exam_live = make_exam(institution=inst, title=f"Live {title}", questions=QUESTIONS,
                              identity_check_required=False, proctoring_required=False)
        staff = make_user("staff", inst)
        proctor = make_user("proctor", inst)
        candidate = make_user("candidate", inst, first_name=candidate_name or "Erika", last_name=marker)
        exam_done.proctors.append(proctor)
        exam_live.proctors.append(proctor)
        db.session.commit()
        with app.test_request_context():  # the services' messages are translated per request
            done = start_attempt(candidate, exam_done, utcnow())
            save_answer(done, "q1", "a", utcnow())
            save_answer(done, "q2", answer or f"Antwort {marker}", utcnow())
            submit_attempt(done, utcnow())
            give_points(done, staff, "q2", 1, utcnow())
            # Released 9 days ago: the appeal (filed the next day) is open, the window has closed since, and the
            # certificate is the candidate's to download.
            released = utcnow() - dt.timedelta(days=9)
            release_result(done, staff, released)
            appeal = file_appeal(done, appeal_text or f"Einspruch {marker}", released + dt.timedelta(days=1))
            live = start_attempt(candidate, exam_live, utcnow())
            save_answer(live, "q2", answer or f"Antwort {marker}", utcnow())
            message = chat.send(live, candidate, chat_text or f"Frage {marker}", utcnow())
        owner = {"user_id": candidate.id, "institution_id": inst.id}
        recording = vault.store("recording", f"webm {marker}".encode(), content_type="video/webm",
                                attempt_id=live.id, **owner)
        id_image = vault.store("id_image", b"\xff\xd8\xff\xe0" + f"ausweis {marker}".encode(), **owner)
        check = IdCheck(user_id=candidate.id, exam_id=exam_live.id, biometric=True, status=IdCheckStatus.REVIEW,
                        id_image_blob_id=id_image.id, reason=f"Abstand {marker}")
        db.session.add(check)
        db.session.commit()
        cert = certificate_for_attempt(done)
        assert cert is not None
        from privacy.export import build_export
        from privacy.models import DataExport

        export = DataExport(user_id=candidate.id, token=f"token-{marker}-{candidate.id}", created_at=utcnow(),
                            expires_at=utcnow() + dt.timedelta(days=7))
        db.session.add(export)
        db.session.commit()
        build_export(export.id)
        from accounts.oidc import OidcProvider
        from privacy.models import ProfileChange

        change = ProfileChange(user_id=candidate.id, field="last_name", old_value=marker, new_value=f"{marker}-Neu",
                               changed_by_id=candidate.id, status="requested")
        provider = OidcProvider(institution_id=inst.id, name=f"Login {marker}", issuer=f"https://login.example.org/{marker}",
                                client_id=f"client-{marker}", secret_key_id="k", secret_wrapped=b"sealed")
        from exams.models import Enrolment, ExamSession

        session = ExamSession(exam_id=exam_live.id, starts_at=exam_live.opens_at, ends_at=exam_live.closes_at,
                              proctors=[proctor])
        db.session.add_all([change, provider, session])
        db.session.commit()
        from lti.models import LtiEnrolment, LtiLink, LtiPlatform, LtiProctoring

        lms = f"https://lms.example.org/{inst.id}"
        lti_platform = LtiPlatform(institution_id=inst.id, name=f"LMS {marker}", issuer=lms, client_id=f"c-{inst.id}",
                                   auth_login_url=f"{lms}/auth", auth_token_url=f"{lms}/token",
                                   jwks_url=f"{lms}/jwks", deployment_ids=["1"])
        db.session.add(lti_platform)
        db.session.flush()
        lti_link = LtiLink(platform_id=lti_platform.id, exam_id=exam_live.id, deployment_id="1",
                           resource_link_id=f"rl-{marker}", context_title=f"Kurs {marker}", ags_scopes=[])
        db.session.add(lti_link)
        db.session.flush()
        lti_session = LtiProctoring(link_id=lti_link.id, user_id=candidate.id, attempt_number=1,
                                    session_data=f"s-{marker}", start_assessment_url=f"{lms}/start", acs_actions=[])
        db.session.add_all([lti_session, LtiEnrolment(link_id=lti_link.id, user_id=candidate.id, subject=f"u-{marker}",
                                                      source="launch")])
        from exams.models import ExtraTime
        from proctoring.flags import raise_flag
        from proctoring.models import FlagKind

        flag = raise_flag(live, FlagKind.TAB_HIDDEN, utcnow(), source=f"browser {marker}")
        db.session.add(ExtraTime(exam_id=exam_live.id, user_id=candidate.id, extra_minutes=10, extra_percent=0,
                                 reason=f"Nachteilsausgleich {marker}"))
        db.session.commit()
        enrolment = db.session.scalars(select(Enrolment).where(Enrolment.exam_id == exam_done.id,
                                                               Enrolment.user_id == candidate.id)).one()
        import io

        from PIL import Image

        from exams.itemmedia import store_item_image
        from exams.models import AnswerFile

        handed = vault.store("answer_file", f"%PDF-1.4 {marker}".encode(), content_type="application/pdf",
                             attempt_id=done.id, **owner)
        answer_file = AnswerFile(attempt_id=done.id, question_id="q2", blob_id=handed.id,
                                 content_type="application/pdf", size=handed.plaintext_size or 0,
                                 name=f"{marker}.pdf", sha256="0" * 64)
        db.session.add(answer_file)
        db.session.commit()
        picture = io.BytesIO()
        Image.new("RGB", (8, 8), "white").save(picture, "PNG")
        item_image = store_item_image(staff, picture.getvalue())
        from results.models import WebhookEndpoint
        from results.tokens import create_token
        from storage.vault import keyring

        api = create_token(staff, f"System {marker}", ["results:read", "rosters:manage"], utcnow())
        key_id, wrapped = keyring().wrap(b"whsec_c2VjcmV0")
        webhook = WebhookEndpoint(institution_id=inst.id, url=f"https://192.0.2.1/hooks/{marker}",
                                  events=["result.released"], secret_key_id=key_id, secret_wrapped=wrapped)
        db.session.add(webhook)
        db.session.commit()
        return Tenant(marker, inst, staff, proctor, candidate, exam_done, exam_live, done, live, cert, appeal, check,
                      recording, int(message["id"]), export, change, provider, lti_platform, lti_link, lti_session,
                      flag, session, enrolment, answer_file, item_image, api.token, api.row, webhook,
                      _item_media(staff))

    return make


def _item_media(staff: Any) -> Any:
    """A short WAV tone stored as the institution's item media (exams.stimuli)."""
    import io
    import wave

    from exams.stimuli import store_item_media

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x10" * 800)
    media = store_item_media(staff, out.getvalue())
    db.session.commit()
    return media
